/* The server's model (recs.h): trained on a thread of its own, swapped
 * in when ready. A model is freed when it is no longer current and its
 * last query gave it back. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "recs/recs_int.h"

#define POLL_MS 1000

struct px_recs_service {
  px_store *st;
  pthread_t thread;
  int started, stop, poked;
  int pending;        /* a training is due that may bring a model (at start, after a poke) */
  pthread_mutex_t mu; /* cur, the models' refs and pools, last_error, stop, poked, pending */
  pthread_cond_t cv;
  pthread_mutex_t train_mu; /* one training at a time */
  px_recs_model *cur;
  px_status last_error; /* of the last training (PX_NOT_FOUND: no definition) */
  /* The last training tried (run's thread and refreshes, under train_mu). */
  int64_t tried_ms, tried_def;
  int64_t every_ms; /* refresh_every of the last model trained */
  uint64_t tried_version;
};

/* Makes m current (NULL: none); the old model goes when unreferenced. */
static void swap_in(px_recs_service *s, px_recs_model *m, px_status why) {
  pthread_mutex_lock(&s->mu);
  px_recs_model *old = s->cur;
  s->cur = m;
  s->last_error = why;
  if (!s->poked) s->pending = 0;
  if (old && old->refs) old = NULL; /* its last release frees it */
  pthread_mutex_unlock(&s->mu);
  px_recs_model_free(old);
}

/* When the stored definition last changed (its body is not parsed: this
 * runs every second). PX_NOT_FOUND without one. */
static px_status def_updated(px_store *st, int64_t *updated) {
  px_txn *txn = NULL;
  px_def d;
  px_status rc = px_store_begin(st, PX_TXN_READ, &txn);
  if (rc == PX_OK && (rc = px_def_get(txn, st, PX_DEF_RECS, PX_RECS_DEF_NAME, &d)) == PX_OK) {
    *updated = d.updated_ms;
    px_def_free(&d);
  }
  px_store_abort(txn);
  return rc;
}

/* Trains and swaps in the result; a failed training keeps the current
 * model, except when the definition is gone. */
static px_status train(px_recs_service *s, px_recs_stats *stats) {
  pthread_mutex_lock(&s->train_mu);
  px_recs_model *m = NULL;
  s->tried_ms = px_time_now_ms();
  s->tried_version = px_store_version(s->st);
  def_updated(s->st, &s->tried_def);
  px_status rc = px_recs_train(s->st, s->tried_ms, &m);
  if (rc == PX_OK) {
    if (stats) *stats = m->stats;
    s->every_ms = m->def.every_ms;
    swap_in(s, m, PX_OK);
  } else if (rc == PX_NOT_FOUND) {
    swap_in(s, NULL, rc);
  } else {
    pthread_mutex_lock(&s->mu);
    s->last_error = rc;
    if (!s->poked) s->pending = 0;
    pthread_mutex_unlock(&s->mu);
    px_log(PX_LOG_WARN, "recommendations: training failed: %s", px_status_str(rc));
  }
  pthread_mutex_unlock(&s->train_mu);
  return rc;
}

/* Whether a training is due: the definition changed (or appeared, or
 * went) since the last one tried, or refresh_every passed since then and
 * the store changed (px_store_version: the log or the state, which an
 * import next to the server derives after its log). */
static int due(px_recs_service *s, int64_t now) {
  int64_t updated = 0;
  px_status rc = def_updated(s->st, &updated);
  pthread_mutex_lock(&s->mu);
  int have = s->cur != NULL;
  pthread_mutex_unlock(&s->mu);
  if (rc == PX_NOT_FOUND) return have; /* gone: forget the model */
  if (rc != PX_OK) return 0;
  pthread_mutex_lock(&s->train_mu);
  int yes = updated != s->tried_def ||
            (s->every_ms > 0 && now - s->tried_ms >= s->every_ms && px_store_version(s->st) != s->tried_version);
  pthread_mutex_unlock(&s->train_mu);
  return yes;
}

static void *run(void *arg) {
  px_recs_service *s = arg;
  int first = 1;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    if (!first && !s->stop && !s->poked) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += POLL_MS / 1000;
      pthread_cond_timedwait(&s->cv, &s->mu, &until);
    }
    int stop = s->stop, poked = s->poked;
    s->poked = 0;
    pthread_mutex_unlock(&s->mu);
    if (stop) break;
    if (first || poked || due(s, px_time_now_ms())) train(s, NULL);
    first = 0;
  }
  return NULL;
}

px_status px_recs_service_start(px_store *st, px_recs_service **out) {
  px_recs_service *s = calloc(1, sizeof *s);
  if (!s) return PX_NOMEM;
  s->st = st;
  s->last_error = PX_NOT_FOUND;
  s->pending = 1;
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->train_mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  if (pthread_create(&s->thread, NULL, run, s) != 0) {
    px_recs_service_stop(s);
    return PX_IO;
  }
  s->started = 1;
  *out = s;
  return PX_OK;
}

void px_recs_service_stop(px_recs_service *s) {
  if (!s) return;
  if (s->started) {
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
  }
  px_recs_model_free(s->cur); /* no query runs any more */
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->train_mu);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

const px_recs_model *px_recs_service_acquire(px_recs_service *s, px_reco_query **q, px_status *why) {
  *q = NULL;
  pthread_mutex_lock(&s->mu);
  px_recs_model *m = s->cur;
  if (!m) {
    *why = s->pending ? PX_OK : s->last_error == PX_OK ? PX_NOT_FOUND : s->last_error;
  } else {
    m->refs++;
    if (m->npool) *q = m->pool[--m->npool];
  }
  pthread_mutex_unlock(&s->mu);
  if (m && !*q && px_recs_query_new(m, q) != PX_OK) {
    px_recs_service_release(s, m, NULL);
    *why = PX_NOMEM;
    return NULL;
  }
  return m;
}

void px_recs_service_release(px_recs_service *s, const px_recs_model *cm, px_reco_query *q) {
  px_recs_model *m = (px_recs_model *)cm, *dead = NULL;
  pthread_mutex_lock(&s->mu);
  if (q && m->npool < RECS_POOL) m->pool[m->npool++] = q, q = NULL;
  if (--m->refs == 0 && m != s->cur) dead = m;
  pthread_mutex_unlock(&s->mu);
  px_reco_query_free(q);
  px_recs_model_free(dead);
}

px_status px_recs_service_refresh(px_recs_service *s, px_recs_stats *stats) { return train(s, stats); }

void px_recs_service_poke(px_recs_service *s) {
  pthread_mutex_lock(&s->mu);
  s->poked = s->pending = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

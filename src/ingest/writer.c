#include "ingest/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "config/config.h"
#include "ingest/pipeline.h"
#include "segment/clv_refresh.h"
#include "segment/engine.h"
#include "segment/rfm_refresh.h"
#include "segment/sweep.h"

typedef struct job {
  px_event *events;
  size_t n;
  uint8_t *dup;
  px_status status;
  int done;
  uint64_t enqueued_ns;
  struct job *next;
} job;

struct px_writer {
  px_store *st;
  px_metrics *m;
  px_writer_opts o;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t work, done, space;
  job *head, *tail;
  size_t queued;
  size_t in_flight;
  int running;
  px_config cfg;
  int have_cfg;
  int64_t rfm_retry_ms; /* after a failed RFM refresh, not again before this */
  /* The scheduled CLV refresh: prepared (read, fit, scored) on a thread of
   * its own, applied by this one. Under mu. */
  pthread_t clv_thread;
  int clv_started;
  pthread_cond_t clv_wake;
  int clv_busy;          /* a refresh is being prepared or waits to be applied */
  px_clv_run *clv_run;   /* prepared, to apply */
  px_clv_summary_out clv_m;
  int64_t clv_retry_ms;  /* after a failed CLV refresh, not again before this */
};

static px_status load_config(px_writer *w, px_txn *txn) {
  uint64_t v;
  px_status s = px_config_version(txn, w->st, &v);
  if (s != PX_OK) return s;
  if (w->have_cfg && v == w->cfg.version) return PX_OK;
  px_config fresh;
  px_error err;
  px_error_clear(&err);
  if ((s = px_config_load(txn, w->st, &fresh, &err)) != PX_OK) {
    px_log(PX_LOG_ERROR, "msg=\"cannot load configuration\" field=%s reason=\"%s\"", err.field, err.reason);
    return s;
  }
  if (w->have_cfg) px_config_free(&w->cfg);
  w->cfg = fresh;
  w->have_cfg = 1;
  return PX_OK;
}

/* Applies jobs [first, stop) in one transaction. */
static px_status commit_jobs(px_writer *w, job *first, job *stop) {
  uint64_t t0 = px_time_mono_ns();
  if (px_store_free_bytes(w->st) < w->o.min_free_bytes) {
    px_log(PX_LOG_ERROR, "msg=\"free disk space below the reserve; refusing writes\" reserve=%llu",
           (unsigned long long)w->o.min_free_bytes);
    return PX_DISK_FULL;
  }
  px_txn *txn;
  px_status s = px_store_begin(w->st, 1, &txn);
  if (s != PX_OK) return s;
  if ((s = load_config(w, txn)) != PX_OK) goto fail;
  uint64_t accepted = 0, dups = 0;
  for (job *j = first; j != stop; j = j->next) {
    if ((s = px_pipeline_ingest_many(txn, w->st, &w->cfg, j->events, j->n, j->dup, w->m)) != PX_OK)
      goto fail;
    for (size_t i = 0; i < j->n; i++) j->dup[i] ? dups++ : accepted++;
  }
  if ((s = px_store_commit(txn)) != PX_OK) return s;
  if (w->m) {
    atomic_fetch_add(&w->m->events_accepted, accepted);
    atomic_fetch_add(&w->m->events_duplicate, dups);
    atomic_fetch_add(&w->m->commits, 1);
    px_histogram_observe(&w->m->commit_latency, (px_time_mono_ns() - t0) / 1000);
  }
  return PX_OK;
fail:
  px_store_abort(txn);
  return s;
}

/* Time passing for segments: one bounded turn of px_segment_sweep_run
 * (segment/sweep.h) in state-only transactions (derived state: no log
 * write, no fsync), at the wall clock but never past before, the oldest
 * receivedAt still queued (an event is applied at its receivedAt, after
 * what was due by then: a sweep running ahead of it would record changes
 * out of order). Cheap when nothing is due (one read of the due index).
 * Returns 1 when the turn stopped at its bound with more still due. */
#define SWEEP_TURN_PROFILES 2000
#define SWEEP_TURN_NS 20000000ull /* 20 ms */
#define SWEEP_EVERY_NS 1000000000ull

static int sweep_segments(px_writer *w, int64_t before) {
  px_txn *txn;
  int64_t due = INT64_MAX, now = px_time_now_ms();
  if (before < now) now = before;
  if (px_store_begin(w->st, PX_TXN_READ, &txn) != PX_OK) return 0;
  px_status s = px_segment_next_due(txn, w->st, &due);
  if (s == PX_OK && due <= now) s = load_config(w, txn);
  px_store_abort(txn);
  if (s != PX_OK || due > now) return 0;
  px_sweep_limits lim = {.per_txn = SWEEP_TURN_PROFILES, .max = SWEEP_TURN_PROFILES, .max_ns = SWEEP_TURN_NS};
  px_sweep_result r = {0, 0};
  if ((s = px_segment_sweep_run(w->st, &w->cfg, now, &lim, &r)) != PX_OK) {
    px_log(PX_LOG_WARN, "msg=\"segment sweep failed\" status=\"%s\"", px_status_str(s));
    return 0; /* tried again at the next once-a-second check */
  }
  return r.more;
}

/* The oldest receivedAt among the queued events (INT64_MAX: none). Under w->mu. */
static int64_t oldest_queued(const px_writer *w) {
  int64_t oldest = INT64_MAX;
  for (const job *j = w->head; j; j = j->next)
    for (size_t i = 0; i < j->n; i++)
      if (j->events[i].received_ms < oldest) oldest = j->events[i].received_ms;
  return oldest;
}

/* The scheduled RFM refresh (segment/rfm_refresh.h), in a state-only
 * transaction when the writer is idle: checked at most once a second (one
 * read of the definition and of the last summary), run when due. A failure
 * (a computed trait RFM names was deleted, the store) is logged and
 * retried a minute later. The CLV refresh (clv_refresh.h) is prepared on
 * its own thread and applied here when idle, on the same terms; one whose
 * data cannot support a fit yet is not a failure: its summary says so, and
 * the next try is refresh_every later. */
static void refresh_rfm(px_writer *w, int64_t now) {
  px_txn *txn;
  int64_t due = INT64_MAX;
  if (now < w->rfm_retry_ms || px_store_begin(w->st, PX_TXN_READ, &txn) != PX_OK) return;
  px_rfm_next_due(txn, w->st, &due);
  px_store_abort(txn);
  if (due > now || px_store_begin(w->st, PX_TXN_STATE, &txn) != PX_OK) return;
  px_rfm_summary m;
  px_error err;
  px_error_clear(&err);
  px_status s = load_config(w, txn);
  if (s == PX_OK) s = px_rfm_refresh(txn, w->st, &w->cfg, now, NULL, NULL, &m, &err);
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s == PX_OK) {
    px_log(PX_LOG_INFO, "msg=\"rfm refreshed\" population=%llu changed=%llu removed=%llu",
           (unsigned long long)m.population, (unsigned long long)m.changed, (unsigned long long)m.removed);
  } else if (s != PX_NOT_FOUND) {
    w->rfm_retry_ms = now + 60000;
    px_log(PX_LOG_WARN, "msg=\"rfm refresh failed\" status=\"%s\" field=%s reason=\"%s\"", px_status_str(s),
           err.field, err.reason);
  }
}

/* The CLV preparer: once a second, when a refresh is due and none is under
 * way, reads, fits and scores in a read transaction of its own (seconds at
 * a million customers) and hands the run to the writer, which applies it
 * when idle (apply_clv): events keep being stored meanwhile. */
static void *prepare_clv(void *arg) {
  px_writer *w = arg;
  pthread_setname_np(pthread_self(), "px-clv");
  pthread_mutex_lock(&w->mu);
  while (w->running) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_cond_timedwait(&w->clv_wake, &w->mu, &until);
    int64_t now = px_time_now_ms();
    if (!w->running || w->clv_busy || now < w->clv_retry_ms) continue;
    w->clv_busy = 1;
    pthread_mutex_unlock(&w->mu);
    px_txn *txn;
    int64_t due = INT64_MAX;
    px_clv_run *run = NULL;
    px_clv_summary_out m;
    px_status s = px_store_begin(w->st, PX_TXN_READ, &txn);
    if (s == PX_OK) {
      if ((s = px_clv_next_due(txn, w->st, &due)) == PX_OK && due <= now)
        s = px_clv_prepare(txn, w->st, now, NULL, NULL, &run, &m);
      px_store_abort(txn);
    }
    pthread_mutex_lock(&w->mu);
    if (run) {
      w->clv_run = run, w->clv_m = m; /* clv_busy stays until it is applied */
    } else {
      w->clv_busy = 0;
      if (s != PX_OK) {
        w->clv_retry_ms = now + 60000;
        px_log(PX_LOG_WARN, "msg=\"clv refresh failed\" status=\"%s\"", px_status_str(s));
      }
    }
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* Applies a prepared CLV refresh, if there is one, in a state transaction. */
static void apply_clv(px_writer *w) {
  pthread_mutex_lock(&w->mu);
  px_clv_run *run = w->clv_run;
  px_clv_summary_out m = w->clv_m;
  w->clv_run = NULL;
  pthread_mutex_unlock(&w->mu);
  if (!run) return;
  px_txn *txn;
  px_status s = px_store_begin(w->st, PX_TXN_STATE, &txn);
  if (s == PX_OK) {
    s = load_config(w, txn);
    if (s == PX_OK) s = px_clv_apply(txn, w->st, &w->cfg, run, px_time_now_ms(), &m);
    if (s == PX_OK) s = px_store_commit(txn);
    else px_store_abort(txn);
  }
  px_clv_run_free(run);
  pthread_mutex_lock(&w->mu);
  w->clv_busy = 0;
  if (s != PX_OK) w->clv_retry_ms = px_time_now_ms() + 60000;
  pthread_mutex_unlock(&w->mu);
  if (s == PX_OK)
    px_log(PX_LOG_INFO, "msg=\"clv refreshed\" fitted=%d model=%u customers=%llu changed=%llu removed=%llu", m.fitted,
           m.model, (unsigned long long)m.customers, (unsigned long long)m.changed, (unsigned long long)m.removed);
  else
    px_log(PX_LOG_WARN, "msg=\"clv refresh failed\" status=\"%s\"", px_status_str(s));
}

static void refresh_scores(px_writer *w) {
  refresh_rfm(w, px_time_now_ms());
  apply_clv(w);
}

/* Segments' time passing runs between transactions of events: checked once
 * a second, busy or idle; while a turn leaves more due, another turn runs
 * after each transaction (busy) or at once (idle, until nothing is due).
 * A turn is bounded (SWEEP_TURN_*) so queued requests wait little. The RFM
 * refresh is checked once a second when idle, on its own clock. */
static void *run(void *arg) {
  px_writer *w = arg;
  pthread_setname_np(pthread_self(), "px-writer");
  pthread_mutex_lock(&w->mu);
  uint64_t last_sweep = px_time_mono_ns(), last_refresh = last_sweep;
  int behind = 0; /* the last sweep turn left changes due */
  for (;;) {
    while (!w->head && w->running) {
      uint64_t now = px_time_mono_ns();
      int sweep = behind || now - last_sweep >= SWEEP_EVERY_NS, refresh = now - last_refresh >= SWEEP_EVERY_NS;
      if (sweep || refresh) {
        pthread_mutex_unlock(&w->mu);
        if (sweep) last_sweep = now, behind = sweep_segments(w, INT64_MAX);
        if (refresh) last_refresh = now, refresh_scores(w);
        pthread_mutex_lock(&w->mu);
        continue;
      }
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += 1;
      pthread_cond_timedwait(&w->work, &w->mu, &until);
    }
    if (!w->head) break;
    uint64_t mono = px_time_mono_ns();
    if (behind || mono - last_sweep >= SWEEP_EVERY_NS) {
      last_sweep = mono;
      int64_t before = oldest_queued(w);
      pthread_mutex_unlock(&w->mu); /* submitters may queue meanwhile; only this thread takes jobs */
      behind = sweep_segments(w, before);
      pthread_mutex_lock(&w->mu);
    }
    job *first = w->head, *stop = first;
    size_t n = 0;
    while (stop && (n == 0 || n + stop->n <= w->o.max_txn_events)) {
      n += stop->n;
      stop = stop->next;
    }
    w->head = stop;
    if (!stop) w->tail = NULL;
    w->queued -= n;
    w->in_flight = n;
    if (w->m) atomic_store(&w->m->queue_events, (int64_t)w->queued);
    pthread_cond_broadcast(&w->space);
    pthread_mutex_unlock(&w->mu);

    px_status s = commit_jobs(w, first, stop);
    if (s == PX_OK || s == PX_DISK_FULL || s == PX_STORE_FULL) {
      /* Success, or a failure every request would meet alike: no retries. */
      for (job *j = first; j != stop; j = j->next) j->status = s;
    } else {
      /* Isolate the failure: one bad request must not fail its neighbours. */
      px_log(PX_LOG_WARN, "msg=\"group commit failed, retrying requests one by one\" status=\"%s\"",
             px_status_str(s));
      for (job *j = first; j != stop; j = j->next) {
        j->status = first->next == stop ? s : commit_jobs(w, j, j->next);
        if (j->status != PX_OK)
          px_log(PX_LOG_ERROR, "msg=\"request not stored\" events=%zu status=\"%s\"", j->n,
                 px_status_str(j->status));
      }
    }
    pthread_mutex_lock(&w->mu);
    w->in_flight = 0;
    uint64_t now = px_time_mono_ns();
    for (job *j = first; j != stop;) {
      job *next = j->next;
      if (w->m) px_histogram_observe(&w->m->request_latency, (now - j->enqueued_ns) / 1000);
      j->done = 1;
      j = next;
    }
    pthread_cond_broadcast(&w->done);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

px_status px_writer_start(px_store *st, px_metrics *m, const px_writer_opts *opts,
                          px_writer **out) {
  px_writer *w = calloc(1, sizeof *w);
  if (!w) return PX_NOMEM;
  w->st = st;
  w->m = m;
  if (opts) w->o = *opts;
  if (!w->o.max_queue_events) w->o.max_queue_events = 50000;
  if (!w->o.max_wait_ms) w->o.max_wait_ms = 2000;
  if (!w->o.max_txn_events) w->o.max_txn_events = 20000;
  if (!w->o.min_free_bytes) w->o.min_free_bytes = (uint64_t)64 << 20;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->work, NULL);
  pthread_cond_init(&w->done, NULL);
  pthread_cond_init(&w->space, NULL);
  pthread_cond_init(&w->clv_wake, NULL);
  w->running = 1;
  if (pthread_create(&w->thread, NULL, run, w) != 0) {
    free(w);
    return PX_NOMEM;
  }
  w->clv_started = pthread_create(&w->clv_thread, NULL, prepare_clv, w) == 0;
  if (!w->clv_started) px_log(PX_LOG_WARN, "msg=\"no thread for the scheduled clv refresh\"");
  *out = w;
  return PX_OK;
}

void px_writer_stop(px_writer *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->running = 0;
  pthread_cond_broadcast(&w->work);
  pthread_cond_broadcast(&w->space);
  pthread_cond_broadcast(&w->clv_wake);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  if (w->clv_started) pthread_join(w->clv_thread, NULL);
  px_clv_run_free(w->clv_run); /* prepared, never applied */
  pthread_cond_destroy(&w->clv_wake);
  if (w->have_cfg) px_config_free(&w->cfg);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->work);
  pthread_cond_destroy(&w->done);
  pthread_cond_destroy(&w->space);
  free(w);
}

size_t px_writer_queued(px_writer *w) {
  pthread_mutex_lock(&w->mu);
  size_t n = w->queued;
  pthread_mutex_unlock(&w->mu);
  return n;
}

size_t px_writer_in_flight(px_writer *w) {
  pthread_mutex_lock(&w->mu);
  size_t n = w->in_flight;
  pthread_mutex_unlock(&w->mu);
  return n;
}

px_status px_writer_submit(px_writer *w, px_event *events, size_t n, uint8_t *dup) {
  if (n == 0) return PX_OK;
  job j = {.events = events, .n = n, .dup = dup, .status = PX_STORE};
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += w->o.max_wait_ms / 1000;
  deadline.tv_nsec += (long)(w->o.max_wait_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&w->mu);
  /* A request larger than the whole queue still gets in once the queue is empty. */
  while (w->running && w->queued > 0 && w->queued + n > w->o.max_queue_events) {
    if (pthread_cond_timedwait(&w->space, &w->mu, &deadline) == ETIMEDOUT) break;
  }
  if (!w->running) {
    pthread_mutex_unlock(&w->mu);
    return PX_SHUTDOWN;
  }
  if (w->queued > 0 && w->queued + n > w->o.max_queue_events) {
    pthread_mutex_unlock(&w->mu);
    if (w->m) atomic_fetch_add(&w->m->requests_overloaded, 1);
    return PX_OVERLOADED;
  }
  j.enqueued_ns = px_time_mono_ns();
  if (w->tail)
    w->tail->next = &j;
  else
    w->head = &j;
  w->tail = &j;
  w->queued += n;
  if (w->m) atomic_store(&w->m->queue_events, (int64_t)w->queued);
  pthread_cond_signal(&w->work);
  while (!j.done) pthread_cond_wait(&w->done, &w->mu);
  pthread_mutex_unlock(&w->mu);
  return j.status;
}

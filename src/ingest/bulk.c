#include "ingest/bulk.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "ingest/pipeline.h"

#define CHUNK 8192      /* events a chunk holds, at most */
#define NCHUNKS 8       /* the ring: one filling, the rest queued or in a thread */
#define GROUP 2         /* chunks per transaction */

/* A chunk goes round: filled by the caller, logged by the log thread,
 * derived by the state thread, then emptied by the caller for reuse. */
enum { FILLING, PARSED, LOGGED, DONE };

typedef struct chunk {
  px_arena *arena; /* the events' JSON trees */
  px_event ev[CHUNK];
  uint8_t dup[CHUNK];
  size_t n;
  int state;
  int logged; /* its log transaction committed */
} chunk;

struct px_bulk {
  px_store *st;
  const px_config *cfg;
  uint64_t min_free;
  size_t chunk_events;    /* a chunk is handed on when it holds this many */
  chunk *c; /* NCHUNKS */
  int cur;                /* the chunk being filled */
  int log_at, state_at;   /* the next chunk each thread takes */
  int closing;            /* no more chunks will come */
  int log_exited;
  int state_off;          /* the state thread stopped: catch-up finishes */
  atomic_int status;      /* the first failure to log (px_status); read without mu */
  uint64_t accepted, duplicates;
  pthread_t log_thread, state_thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
};

/* How many chunks from at on (in ring order, at most GROUP) are in state. Under mu. */
static int take(px_bulk *b, int at, int state) {
  int k = 0;
  while (k < GROUP && b->c[(at + k) % NCHUNKS].state == state) k++;
  return k;
}

static px_status log_group(px_bulk *b, int at, int k) {
  if (px_store_free_bytes(b->st) < b->min_free) {
    px_log(PX_LOG_ERROR, "msg=\"free disk space below the reserve; refusing writes\"");
    return PX_DISK_FULL;
  }
  px_txn *txn = NULL; /* px_store_abort(NULL) does nothing */
  px_status s = px_store_begin(b->st, PX_TXN_LOG, &txn);
  for (int i = 0; i < k && s == PX_OK; i++) {
    chunk *c = &b->c[(at + i) % NCHUNKS];
    s = px_pipeline_log_many(txn, b->st, b->cfg, c->ev, c->n, c->dup);
  }
  if (s == PX_OK) return px_store_commit(txn);
  px_store_abort(txn);
  return s;
}

static void *log_thread(void *arg) {
  px_bulk *b = arg;
  pthread_setname_np(pthread_self(), "px-bulk-log");
  pthread_mutex_lock(&b->mu);
  for (;;) {
    while (b->c[b->log_at].state != PARSED && !b->closing) pthread_cond_wait(&b->cv, &b->mu);
    int at = b->log_at, k = take(b, at, PARSED);
    if (!k) break; /* closing, and nothing left */
    px_status failed = (px_status)atomic_load(&b->status);
    pthread_mutex_unlock(&b->mu);
    px_status s = failed == PX_OK ? log_group(b, at, k) : failed;
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < k; i++) {
      chunk *c = &b->c[(at + i) % NCHUNKS];
      c->logged = s == PX_OK;
      c->state = LOGGED;
      for (size_t e = 0; e < c->n && c->logged; e++) c->dup[e] ? b->duplicates++ : b->accepted++;
    }
    if (s != PX_OK && atomic_load(&b->status) == PX_OK) atomic_store(&b->status, s);
    b->log_at = (at + k) % NCHUNKS;
    pthread_cond_broadcast(&b->cv);
  }
  b->log_exited = 1;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
  return NULL;
}

/* Derives logged chunks; any trouble turns the state thread off and leaves
 * the rest to the catch-up at the end (which reads the log). */
static void derive_group(px_bulk *b, int at, int k) {
  px_txn *txn = NULL; /* px_store_abort(NULL) does nothing */
  px_status s = px_store_begin(b->st, PX_TXN_STATE, &txn);
  for (int i = 0; i < k && s == PX_OK; i++) {
    chunk *c = &b->c[(at + i) % NCHUNKS];
    if (c->logged) s = px_pipeline_apply_logged(txn, b->st, b->cfg, c->ev, c->n, c->dup);
  }
  if (s == PX_OK) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (s != PX_OK) {
    if (s != PX_BEHIND)
      px_log(PX_LOG_WARN, "msg=\"bulk load: deriving in step failed; catching up from the log\" status=\"%s\"",
             px_status_str(s));
    b->state_off = 1;
  }
}

static void *state_thread(void *arg) {
  px_bulk *b = arg;
  pthread_setname_np(pthread_self(), "px-bulk-state");
  pthread_mutex_lock(&b->mu);
  for (;;) {
    while (b->c[b->state_at].state != LOGGED && !b->log_exited) pthread_cond_wait(&b->cv, &b->mu);
    int at = b->state_at, k = take(b, at, LOGGED);
    if (!k) break; /* the log thread is gone, and nothing left */
    int off = b->state_off;
    pthread_mutex_unlock(&b->mu);
    if (!off) derive_group(b, at, k);
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < k; i++) b->c[(at + i) % NCHUNKS].state = DONE;
    b->state_at = (at + k) % NCHUNKS;
    pthread_cond_broadcast(&b->cv);
  }
  pthread_mutex_unlock(&b->mu);
  return NULL;
}

/* Frees a chunk's events; the trees go with the arena. Only the caller's
 * thread touches a chunk that is FILLING (or DONE). */
static void empty(chunk *c) {
  int drop = px_arena_enabled();
  for (size_t i = 0; i < c->n; i++) {
    if (drop) c->ev[i].root = NULL;
    px_event_free(&c->ev[i]);
  }
  c->n = 0;
  px_arena_reset(c->arena);
}

static void destroy(px_bulk *b) {
  for (int i = 0; i < NCHUNKS && b->c; i++) {
    empty(&b->c[i]);
    px_arena_destroy(b->c[i].arena);
  }
  free(b->c);
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->cv);
  free(b);
}

px_status px_bulk_start(px_store *st, const px_config *cfg, const px_bulk_opts *opts, px_bulk **out) {
  px_bulk *b = calloc(1, sizeof *b);
  if (!b) return PX_NOMEM;
  b->st = st;
  b->cfg = cfg;
  b->min_free = opts ? opts->min_free_bytes : 0;
  b->chunk_events = opts && opts->chunk_events && opts->chunk_events < CHUNK ? opts->chunk_events : CHUNK;
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->cv, NULL);
  if (!(b->c = calloc(NCHUNKS, sizeof *b->c))) {
    destroy(b);
    return PX_NOMEM;
  }
  for (int i = 0; i < NCHUNKS; i++)
    if (!(b->c[i].arena = px_arena_create())) {
      destroy(b);
      return PX_NOMEM;
    }
  if (pthread_create(&b->log_thread, NULL, log_thread, b) != 0) {
    destroy(b);
    return PX_NOMEM;
  }
  if (pthread_create(&b->state_thread, NULL, state_thread, b) != 0) {
    pthread_mutex_lock(&b->mu);
    b->closing = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->log_thread, NULL);
    destroy(b);
    return PX_NOMEM;
  }
  *out = b;
  return PX_OK;
}

px_event *px_bulk_slot(px_bulk *b, px_arena **arena) {
  chunk *c = &b->c[b->cur];
  *arena = c->arena;
  return atomic_load(&b->status) == PX_OK ? &c->ev[c->n] : NULL;
}

/* Hands the current chunk on and waits until the next one is free. */
static px_status hand_on(px_bulk *b) {
  pthread_mutex_lock(&b->mu);
  b->c[b->cur].state = PARSED;
  pthread_cond_broadcast(&b->cv);
  b->cur = (b->cur + 1) % NCHUNKS;
  chunk *next = &b->c[b->cur];
  while (next->state == PARSED || next->state == LOGGED) pthread_cond_wait(&b->cv, &b->mu);
  next->state = FILLING;
  pthread_mutex_unlock(&b->mu);
  empty(next);
  return (px_status)atomic_load(&b->status);
}

px_status px_bulk_add(px_bulk *b) {
  if (++b->c[b->cur].n < b->chunk_events) return (px_status)atomic_load(&b->status);
  return hand_on(b);
}

void px_bulk_counts(px_bulk *b, uint64_t *accepted, uint64_t *duplicates) {
  pthread_mutex_lock(&b->mu);
  *accepted = b->accepted;
  *duplicates = b->duplicates;
  pthread_mutex_unlock(&b->mu);
}

px_status px_bulk_finish(px_bulk *b, uint64_t *accepted, uint64_t *duplicates) {
  if (b->c[b->cur].n) hand_on(b);
  pthread_mutex_lock(&b->mu);
  b->closing = 1;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
  pthread_join(b->log_thread, NULL);
  pthread_join(b->state_thread, NULL);
  px_status s = (px_status)atomic_load(&b->status);
  px_store *st = b->st;
  *accepted = b->accepted;
  *duplicates = b->duplicates;
  destroy(b);
  /* Whatever the state thread did not apply (it stopped, or the log failed
   * midway) is in the log: apply it from there. */
  px_error err;
  px_error_clear(&err);
  px_status cs = px_pipeline_catch_up_all(st, NULL, NULL, &err);
  return s != PX_OK ? s : cs;
}

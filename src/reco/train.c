/* Training the item-to-item model: see model.h.
 *
 * For each item i: for each user u who has i, for each other item j in u's
 * basket, acc[j] += w_ui w_uj. acc is a dense array over items with a list
 * of the entries touched, so the work is the sum over users of |basket|^2
 * and the memory O(items) per thread: the co-occurrence matrix is never
 * held. The touched entries become similarities, and a min-heap of size K
 * keeps the best; they are sorted last. */
#include "reco/model.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK 32 /* items a thread takes at a time */
#define MAX_THREADS 16

struct px_reco_model {
  uint32_t n_items, k;
  size_t *start;          /* n_items + 1 */
  px_reco_neighbour *nbr; /* start[n_items] */
  double *popularity;     /* n_items */
  uint32_t *popular;      /* n_popular items, best first */
  size_t n_popular;
  px_reco_model_stats stats;
};

px_reco_model_opts px_reco_model_defaults(void) {
  return (px_reco_model_opts){.neighbours = 50, .shrink = 5, .locality = 3, .threads = 1};
}

/* The transposed baskets: item i's users are u[ustart[i]..ustart[i+1]) with weights w. */
typedef struct transpose {
  size_t *ustart;
  uint32_t *u;
  float *w;
} transpose;

/* Shared by the training threads. */
typedef struct job {
  const px_reco_baskets *b;
  const transpose *t;
  const double *norm; /* sqrt(n_i) */
  double shrink, locality;
  uint32_t k;
  px_reco_neighbour *slots; /* K per item */
  uint32_t *count;          /* neighbours kept per item */
  size_t *touched_total;    /* per item: co_pairs */
  atomic_uint next;         /* the next chunk of items */
} job;

/* a ranks below b: a lower score, or the same and a higher index. */
static int worse(const px_reco_neighbour *a, const px_reco_neighbour *b) {
  return a->score < b->score || (a->score == b->score && a->item > b->item);
}

/* Min-heap on worse(): the root is the weakest kept neighbour. */
static void sift_down(px_reco_neighbour *h, size_t n, size_t at) {
  for (;;) {
    size_t l = 2 * at + 1, r = l + 1, m = at;
    if (l < n && worse(&h[l], &h[m])) m = l;
    if (r < n && worse(&h[r], &h[m])) m = r;
    if (m == at) return;
    px_reco_neighbour t = h[at];
    h[at] = h[m];
    h[m] = t;
    at = m;
  }
}

static void sift_up(px_reco_neighbour *h, size_t at) {
  while (at) {
    size_t p = (at - 1) / 2;
    if (!worse(&h[at], &h[p])) return;
    px_reco_neighbour t = h[at];
    h[at] = h[p];
    h[p] = t;
    at = p;
  }
}

/* Sorts the heap best first (heap sort on the min-heap leaves it so). */
static void heap_sort(px_reco_neighbour *h, size_t n) {
  for (size_t end = n; end > 1; end--) {
    px_reco_neighbour t = h[0];
    h[0] = h[end - 1];
    h[end - 1] = t;
    sift_down(h, end - 1, 0);
  }
}

/* Item i's neighbours into j->slots + i * K, with acc and touched as scratch. */
static void one_item(job *j, uint32_t i, double *acc, uint32_t *touched) {
  const px_reco_baskets *b = j->b;
  const transpose *t = j->t;
  size_t nt = 0;
  for (size_t p = t->ustart[i]; p < t->ustart[i + 1]; p++) {
    uint32_t u = t->u[p];
    double wu = t->w[p];
    for (size_t q = b->start[u]; q < b->start[u + 1]; q++) {
      uint32_t o = b->items[q].item;
      if (o == i) continue;
      if (acc[o] == 0) touched[nt++] = o;
      acc[o] += wu * b->items[q].weight;
    }
  }
  j->touched_total[i] = nt;
  px_reco_neighbour *h = j->slots + (size_t)i * j->k;
  size_t nh = 0;
  for (size_t q = 0; q < nt; q++) {
    uint32_t o = touched[q];
    double denom = j->norm[i] * j->norm[o] + j->shrink;
    px_reco_neighbour c = {o, (float)(denom > 0 ? acc[o] / denom : 0), 0};
    acc[o] = 0;
    if (!(c.score > 0)) continue;
    if (nh < j->k) {
      h[nh++] = c;
      sift_up(h, nh - 1);
    } else if (worse(&h[0], &c)) {
      h[0] = c;
      sift_down(h, nh, 0);
    }
  }
  heap_sort(h, nh);
  for (size_t q = 0; q < nh; q++) h[q].vote = j->locality == 1 ? h[q].score : (float)pow(h[q].score, j->locality);
  j->count[i] = (uint32_t)nh;
}

static void *worker(void *arg) {
  job *j = arg;
  uint32_t n = j->b->n_items;
  double *acc = calloc(n ? n : 1, sizeof *acc);
  uint32_t *touched = malloc((n ? n : 1) * sizeof *touched);
  if (!acc || !touched) {
    free(acc);
    free(touched);
    return (void *)1;
  }
  for (;;) {
    uint32_t from = atomic_fetch_add(&j->next, CHUNK);
    if (from >= n) break;
    uint32_t to = n - from < CHUNK ? n : from + CHUNK;
    for (uint32_t i = from; i < to; i++) one_item(j, i, acc, touched);
  }
  free(acc);
  free(touched);
  return NULL;
}

static int by_popularity(const void *a, const void *b, void *arg) {
  const double *pop = arg;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  if (pop[x] != pop[y]) return pop[x] > pop[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void px_reco_model_free(px_reco_model *m) {
  if (!m) return;
  free(m->start);
  free(m->nbr);
  free(m->popularity);
  free(m->popular);
  free(m);
}

px_status px_reco_model_train(const px_reco_baskets *b, const px_reco_model_opts *opts, px_reco_model **out) {
  double t0 = now_s();
  px_reco_model_opts o = opts ? *opts : px_reco_model_defaults();
  if (o.neighbours < 1 || o.neighbours > PX_RECO_MAX_NEIGHBOURS || !isfinite(o.shrink) || o.shrink < 0 ||
      !isfinite(o.locality) || o.locality <= 0 || o.locality > 100 || o.threads > MAX_THREADS)
    return PX_INVALID;
  uint32_t n = b->n_items, threads = o.threads ? o.threads : 1;
  size_t pairs = b->start[b->n_users];
  px_status st = PX_NOMEM;
  px_reco_model *m = calloc(1, sizeof *m);
  transpose t = {calloc((size_t)n + 1, sizeof(size_t)), malloc((pairs ? pairs : 1) * sizeof(uint32_t)),
                 malloc((pairs ? pairs : 1) * sizeof(float))};
  double *norm = calloc(n ? n : 1, sizeof *norm);
  job j = {.b = b, .t = &t, .norm = norm, .shrink = o.shrink, .locality = o.locality, .k = o.neighbours};
  size_t nslots = (size_t)n * o.neighbours;
  j.slots = malloc((nslots ? nslots : 1) * sizeof *j.slots);
  j.count = calloc(n ? n : 1, sizeof *j.count);
  j.touched_total = calloc(n ? n : 1, sizeof *j.touched_total);
  if (!m || !t.ustart || !t.u || !t.w || !norm || !j.slots || !j.count || !j.touched_total) goto out;
  m->n_items = n;
  m->k = o.neighbours;
  if (!(m->popularity = calloc(n ? n : 1, sizeof *m->popularity))) goto out;
  if (!(m->popular = malloc((n ? n : 1) * sizeof *m->popular))) goto out;

  /* The transpose (users in index order within each item), norms, popularity. */
  for (size_t p = 0; p < pairs; p++) t.ustart[b->items[p].item + 1]++;
  for (uint32_t i = 0; i < n; i++) t.ustart[i + 1] += t.ustart[i];
  for (uint32_t u = 0; u < b->n_users; u++) {
    size_t len = b->start[u + 1] - b->start[u];
    if (len) m->stats.users++;
    m->stats.updates += len * (len - 1);
    for (size_t p = b->start[u]; p < b->start[u + 1]; p++) {
      const px_reco_item *it = &b->items[p];
      size_t at = t.ustart[it->item]++;
      t.u[at] = u;
      t.w[at] = it->weight;
      norm[it->item] += (double)it->weight * it->weight;
      m->popularity[it->item] += it->weight;
    }
  }
  for (uint32_t i = n; i > 0; i--) t.ustart[i] = t.ustart[i - 1]; /* back to starts */
  t.ustart[0] = 0;
  for (uint32_t i = 0; i < n; i++) norm[i] = sqrt(norm[i]);
  m->stats.pairs = pairs;

  /* The neighbours, on threads - 1 extra threads and this one. */
  atomic_init(&j.next, 0);
  pthread_t tid[MAX_THREADS];
  uint32_t started = 0;
  for (; started + 1 < threads; started++)
    if (pthread_create(&tid[started], NULL, worker, &j) != 0) break;
  int failed = worker(&j) != NULL;
  for (uint32_t k = 0; k < started; k++) {
    void *r;
    pthread_join(tid[k], &r);
    failed |= r != NULL;
  }
  if (failed) goto out;

  /* Compact K slots per item into one array. */
  if (!(m->start = malloc(((size_t)n + 1) * sizeof *m->start))) goto out;
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    m->start[i] = total;
    total += j.count[i];
    m->stats.co_pairs += j.touched_total[i];
  }
  m->start[n] = total;
  if (!(m->nbr = malloc((total ? total : 1) * sizeof *m->nbr))) goto out;
  for (uint32_t i = 0; i < n; i++)
    memcpy(m->nbr + m->start[i], j.slots + (size_t)i * o.neighbours, j.count[i] * sizeof *m->nbr);
  m->stats.neighbours = total;

  for (uint32_t i = 0; i < n; i++)
    if (m->popularity[i] > 0) m->popular[m->n_popular++] = i;
  qsort_r(m->popular, m->n_popular, sizeof *m->popular, by_popularity, m->popularity);
  m->stats.seconds = now_s() - t0;
  *out = m;
  m = NULL;
  st = PX_OK;
out:
  px_reco_model_free(m);
  free(t.ustart);
  free(t.u);
  free(t.w);
  free(norm);
  free(j.slots);
  free(j.count);
  free(j.touched_total);
  return st;
}

uint32_t px_reco_model_items(const px_reco_model *m) { return m->n_items; }
const px_reco_model_stats *px_reco_model_stats_of(const px_reco_model *m) { return &m->stats; }

px_status px_reco_model_neighbours(const px_reco_model *m, uint32_t item, const px_reco_neighbour **out, size_t *n) {
  if (item >= m->n_items) {
    *out = NULL;
    *n = 0;
    return PX_NOT_FOUND;
  }
  *out = m->nbr + m->start[item];
  *n = m->start[item + 1] - m->start[item];
  return PX_OK;
}

const uint32_t *px_reco_model_popular(const px_reco_model *m, size_t *n) {
  *n = m->n_popular;
  return m->popular;
}

double px_reco_model_popularity(const px_reco_model *m, uint32_t item) {
  return item < m->n_items ? m->popularity[item] : 0;
}

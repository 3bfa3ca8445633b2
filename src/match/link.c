/* Record linkage end to end (see link.h and docs/internals/match.md):
 * standardize, block, compare (in threads), learn m by EM over the distinct
 * comparison vectors, u from random pairs, weigh, threshold, cluster. */
#include "match/link.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "match/block.h"
#include "match/records.h"

#define FLOOR 1e-6 /* as em.c: no probability exactly 0 or 1 */

static double clampp(double p) { return p < FLOOR ? FLOOR : p > 1 - FLOOR ? 1 - FLOOR : p; }

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- comparing pairs in threads ---- */

/* splitmix64: the k-th random pair is a function of (seed, k) alone, so
 * any split of the work between threads samples the same pairs. */
static uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

typedef struct job {
  const px_match_config *cfg;
  const px_match_records *r;
  const uint32_t *a, *b; /* candidate pairs (vectors stored), or NULL: random pairs (levels counted) */
  unsigned char *vectors;
  size_t from, to;
  uint64_t seed;
  int all_pairs;         /* random pairs: enumerate every pair instead (small inputs) */
  double counts[PX_EM_MAX_FIELDS][PX_EM_MAX_LEVELS];
} job;

/* The k-th of all n(n-1)/2 pairs, in row order (0,1), (0,2)... (1,2)... */
static void nth_pair(size_t k, size_t n, size_t *a, size_t *b) {
  size_t i = 0, row = n - 1;
  while (k >= row) k -= row, i++, row--;
  *a = i, *b = i + 1 + k;
}

static void *run_job(void *arg) {
  job *j = arg;
  size_t F = (size_t)j->cfg->nfields, n = j->r->n;
  unsigned char v[PX_EM_MAX_FIELDS];
  size_t pa = 0, pb = 0;
  if (j->all_pairs && j->from < j->to) nth_pair(j->from, n, &pa, &pb);
  for (size_t k = j->from; k < j->to; k++) {
    if (j->a) {
      px_match_compare(j->cfg, j->r, j->a[k], j->b[k], j->vectors + k * F);
      continue;
    }
    size_t x, y;
    if (j->all_pairs) {
      x = pa, y = pb;
      if (++pb == n) pa++, pb = pa + 1;
    } else {
      uint64_t h = mix(j->seed ^ mix(k));
      x = (size_t)((h >> 32) % n);
      y = (size_t)((h & 0xffffffffu) % (n - 1));
      if (y >= x) y++; /* uniform over the other records */
    }
    px_match_compare(j->cfg, j->r, x, y, v);
    for (size_t f = 0; f < F; f++) j->counts[f][v[f]] += 1;
  }
  return NULL;
}

static int thread_count(const px_match_config *cfg, size_t work) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int t = cfg->threads ? cfg->threads : cores > 0 ? (int)(cores < 8 ? cores : 8) : 1;
  return work < 20000 ? 1 : t;
}

/* Runs tmpl over [0, total) split between threads; sums their counts into tmpl. */
static px_status run_parallel(job *tmpl, size_t total, int threads) {
  job jobs[64];
  pthread_t tid[64];
  int started[64] = {0};
  if (threads > 64) threads = 64;
  for (int t = 0; t < threads; t++) {
    jobs[t] = *tmpl;
    jobs[t].from = total * (size_t)t / (size_t)threads;
    jobs[t].to = total * (size_t)(t + 1) / (size_t)threads;
    memset(jobs[t].counts, 0, sizeof jobs[t].counts);
    if (t < threads - 1 && pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0) started[t] = 1;
    else run_job(&jobs[t]); /* the last share, or no thread to spare: this one */
  }
  for (int t = 0; t < threads - 1; t++)
    if (started[t]) pthread_join(tid[t], NULL);
  memset(tmpl->counts, 0, sizeof tmpl->counts);
  for (int t = 0; t < threads; t++)
    for (int f = 0; f < PX_EM_MAX_FIELDS; f++)
      for (int l = 0; l < PX_EM_MAX_LEVELS; l++) tmpl->counts[f][l] += jobs[t].counts[f][l];
  return PX_OK;
}

/* ---- learning ---- */

/* The distinct vectors of the compared pairs with their counts (EM's input). */
typedef struct distinct {
  unsigned char *vectors;
  double *counts;
  size_t n;
} distinct;

static px_status distinct_vectors(const unsigned char *v, size_t n, size_t F, distinct *out) {
  size_t cap = 1024;
  while (cap < 4 * 65536 && cap < n * 2) cap *= 2;
  memset(out, 0, sizeof *out);
  uint32_t *slot = NULL; /* index + 1 into out, 0 empty */
  px_status s = PX_NOMEM;
  for (;;) {
    free(slot);
    free(out->vectors);
    free(out->counts);
    slot = calloc(cap, sizeof *slot);
    out->vectors = malloc(cap / 2 * F + 1);
    out->counts = malloc(cap / 2 * sizeof *out->counts + 1);
    out->n = 0;
    if (!slot || !out->vectors || !out->counts) goto fail;
    size_t i = 0;
    for (; i < n; i++) {
      const unsigned char *x = v + i * F;
      uint64_t h = 1469598103934665603ull;
      for (size_t f = 0; f < F; f++) h = (h ^ x[f]) * 1099511628211ull;
      size_t k = h & (cap - 1);
      while (slot[k] && memcmp(out->vectors + (slot[k] - 1) * F, x, F)) k = (k + 1) & (cap - 1);
      if (slot[k]) {
        out->counts[slot[k] - 1] += 1;
        continue;
      }
      if (out->n == cap / 2) break; /* too full: start again, twice as large */
      memcpy(out->vectors + out->n * F, x, F);
      out->counts[out->n++] = 1;
      slot[k] = (uint32_t)out->n;
    }
    if (i == n) break;
    cap *= 2;
  }
  s = PX_OK;
fail:
  free(slot);
  if (s != PX_OK) free(out->vectors), free(out->counts), memset(out, 0, sizeof *out);
  return s;
}

/* The configuration's groups into the model, each starting from chance changed. */
static void set_groups(const px_match_config *cfg, px_em_model *mdl, double changed) {
  mdl->ngroups = 0;
  memset(mdl->group, 0, sizeof mdl->group);
  for (int g = 0; g < cfg->ngroups; g++)
    (void)px_em_group(mdl, cfg->groups[g].member, cfg->groups[g].nmembers, changed); /* checked by consistent() */
}

/* m and lambda (of the compared pairs) by EM; u from random pairs; lambda
 * turned into the chance that two records drawn at random match. */
static px_status learn(const px_match_config *cfg, const px_match_records *r, const unsigned char *vectors,
                       size_t npairs, px_link_result *out) {
  size_t F = (size_t)cfg->nfields, n = r->n;
  int nlevels[PX_EM_MAX_FIELDS];
  for (size_t f = 0; f < F; f++) nlevels[f] = px_match_field_levels(&cfg->fields[f]);
  px_em_model *mdl = &out->model;
  double all = n > 1 ? (double)n * (double)(n - 1) / 2 : 1;

  /* u from random pairs (or every pair when there are fewer than the samples). */
  job j = {.cfg = cfg, .r = r, .seed = cfg->seed};
  double sampled[PX_EM_MAX_FIELDS][PX_EM_MAX_LEVELS] = {{0}};
  if (!cfg->u_from_em && n > 1) {
    size_t samples = cfg->u_samples ? cfg->u_samples : 1000000;
    j.all_pairs = all <= (double)samples;
    if (j.all_pairs) samples = (size_t)all;
    run_parallel(&j, samples, thread_count(cfg, samples));
    out->u_sampled = samples;
    for (size_t f = 0; f < F; f++) {
      double sum = 0;
      for (int l = 1; l < nlevels[f]; l++) sum += j.counts[f][l];
      for (int l = 1; l < nlevels[f]; l++) sampled[f][l] = sum > 0 ? j.counts[f][l] / sum : 1.0 / (nlevels[f] - 1);
    }
  }

  /* EM over the compared pairs, starting from u as sampled; a group starts
   * as changed for one match in ten. */
  px_em_init(mdl, (int)F, nlevels, 0.1);
  set_groups(cfg, mdl, 0.1);
  if (out->u_sampled)
    for (size_t f = 0; f < F; f++)
      for (int l = 1; l < nlevels[f]; l++) mdl->u[f][l] = clampp(sampled[f][l]);
  distinct d;
  px_status s = distinct_vectors(vectors, npairs, F, &d);
  if (s != PX_OK) return s;
  out->em_iterations = px_em_fit_counts(mdl, d.vectors, d.counts, d.n, 200, 1e-6, NULL);
  free(d.vectors);
  free(d.counts);
  out->lambda_candidates = mdl->lambda;
  double lambda = clampp(mdl->lambda * (double)npairs / all);
  if (out->u_sampled) {
    /* Random pairs include a few matches (lambda of them): take them out.
     * A group member of a match is distributed as m when the group was
     * kept, as u when it changed. */
    for (size_t f = 0; f < F; f++) {
      double sum = 0, u[PX_EM_MAX_LEVELS], c = mdl->group[f] ? mdl->changed[mdl->group[f] - 1] : 0;
      for (int l = 1; l < nlevels[f]; l++) {
        double m = (1 - c) * mdl->m[f][l] + c * sampled[f][l];
        u[l] = (sampled[f][l] - lambda * m) / (1 - lambda);
        if (u[l] < FLOOR) u[l] = FLOOR;
        sum += u[l];
      }
      for (int l = 1; l < nlevels[f]; l++) mdl->u[f][l] = clampp(u[l] / sum);
    }
  }
  mdl->lambda = lambda;
  return PX_OK;
}

/* ---- weighing ---- */

/* The weight of a pair, per field into parts: log2(m/u) of its levels; an
 * exact agreement on a field with term frequencies uses, for u, the share
 * of records holding that value (a rare surname says more than Smith). */
typedef struct scorer {
  double table[PX_EM_MAX_FIELDS][PX_EM_MAX_LEVELS]; /* log2(m/u) */
  double m_exact[PX_EM_MAX_FIELDS];
} scorer;

static double weigh(const px_match_config *cfg, const px_em_model *mdl, const px_match_records *r, const scorer *sc,
                    uint32_t a, const unsigned char *v, double *parts, unsigned char *group_levels) {
  size_t F = (size_t)cfg->nfields;
  double w = 0, own[PX_EM_MAX_FIELDS + PX_EM_MAX_GROUPS], *p = parts ? parts : own;
  unsigned char present[PX_EM_MAX_FIELDS];
  for (size_t f = 0; f < F; f++) {
    p[f] = sc->table[f][v[f]];
    present[f] = v[f] != 0;
    if (v[f] == 1 && cfg->fields[f].tf && r->count && r->filled[f]) {
      double u = (double)r->count[(size_t)a * F + f] / (double)r->filled[f];
      p[f] = log2(clampp(sc->m_exact[f]) / clampp(u));
    }
    w += p[f];
  }
  return mdl->ngroups ? px_em_group_parts(mdl, present, p, group_levels) : w;
}

typedef struct ranked {
  double w;
  uint32_t a, b;
  size_t i; /* candidate index */
} ranked;

static int strongest_first(const void *x, const void *y) {
  const ranked *p = x, *q = y;
  if (p->w != q->w) return p->w < q->w ? 1 : -1;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  return (p->b > q->b) - (p->b < q->b);
}

/* A configuration built by hand (not parsed) may be inconsistent. */
static int consistent(const px_match_config *cfg) {
  if (cfg->nfields < 1 || cfg->nfields > PX_EM_MAX_FIELDS || cfg->nrules < 1 || cfg->nrules > PX_MATCH_MAX_RULES)
    return 0;
  for (int f = 0; f < cfg->nfields; f++) {
    const px_match_field *fd = &cfg->fields[f];
    if (fd->swap_with >= cfg->nfields || fd->swap_with == f || fd->cmp.nthresholds < 0 ||
        fd->cmp.nthresholds > PX_CMP_MAX_THRESHOLDS || px_match_field_levels(fd) > PX_EM_MAX_LEVELS)
      return 0;
    if (cfg->have_model && cfg->model.nlevels[f] && cfg->model.nlevels[f] != px_match_field_levels(fd)) return 0;
  }
  if (cfg->ngroups < 0 || cfg->ngroups > PX_EM_MAX_GROUPS) return 0;
  px_em_model check;
  memset(&check, 0, sizeof check);
  check.nfields = cfg->nfields;
  for (int g = 0; g < cfg->ngroups; g++) {
    const px_match_group *gr = &cfg->groups[g];
    if (gr->nmembers < 2 || gr->nmembers > cfg->nfields || px_em_group(&check, gr->member, gr->nmembers, 0.5) != 0)
      return 0;
    if (cfg->have_model && !(cfg->model.changed[g] > 0 && cfg->model.changed[g] < 1)) return 0;
  }
  for (int r = 0; r < cfg->nrules; r++) {
    if (cfg->rules[r].nparts < 1 || cfg->rules[r].nparts > PX_BLOCK_MAX_PARTS) return 0;
    for (int p = 0; p < cfg->rules[r].nparts; p++)
      if (cfg->rules[r].field[p] < 0 || cfg->rules[r].field[p] >= cfg->nfields) return 0;
  }
  return cfg->threshold > 0 && cfg->threshold < 1;
}

px_status px_link_run(const px_match_config *cfg, const char *const *values, size_t n, px_link_result *out) {
  memset(out, 0, sizeof *out);
  double t0 = now();
  if (!consistent(cfg) || n > UINT32_MAX) return PX_INVALID;
  size_t F = (size_t)cfg->nfields;
  px_match_records r;
  px_block_pairs bp = {0};
  unsigned char *vectors = NULL;
  ranked *keep = NULL;
  px_status s = px_match_records_build(cfg, values, n, &r);
  if (s != PX_OK) return s;
  out->n = n;
  if ((s = px_block(r.v, n, (int)F, cfg->rules, cfg->nrules, cfg->max_block, &bp)) != PX_OK) goto out;
  out->pairs_compared = bp.n;
  out->skipped_blocks = bp.skipped_blocks;
  s = PX_NOMEM;
  if (!(vectors = malloc(bp.n * F + 1))) goto out;
  job j = {.cfg = cfg, .r = &r, .a = bp.a, .b = bp.b, .vectors = vectors};
  run_parallel(&j, bp.n, thread_count(cfg, bp.n));

  if (cfg->have_model) {
    out->model = cfg->model;
    out->model.nfields = (int)F;
    for (size_t f = 0; f < F; f++) out->model.nlevels[f] = px_match_field_levels(&cfg->fields[f]);
    set_groups(cfg, &out->model, 0);
    for (int g = 0; g < cfg->ngroups; g++) out->model.changed[g] = cfg->model.changed[g];
  } else if ((s = learn(cfg, &r, vectors, bp.n, out)) != PX_OK) {
    goto out;
  }
  scorer sc;
  memset(&sc, 0, sizeof sc);
  for (size_t f = 0; f < F; f++) {
    for (int l = 1; l < out->model.nlevels[f]; l++)
      sc.table[f][l] = log2(clampp(out->model.m[f][l]) / clampp(out->model.u[f][l]));
    sc.m_exact[f] = out->model.m[f][1];
  }
  double prior = log2(clampp(out->model.lambda) / (1 - clampp(out->model.lambda)));
  double cut = log2(cfg->threshold / (1 - cfg->threshold)) - prior; /* weight at the threshold */
  size_t nkeep = 0, capk = 1024;
  s = PX_NOMEM;
  if (!(keep = malloc(capk * sizeof *keep))) goto out;
  for (size_t i = 0; i < bp.n; i++) {
    double w = weigh(cfg, &out->model, &r, &sc, bp.a[i], vectors + i * F, NULL, NULL);
    if (w < cut) continue;
    if (nkeep == capk) {
      ranked *k = realloc(keep, 2 * capk * sizeof *k);
      if (!k) goto out;
      keep = k, capk *= 2;
    }
    keep[nkeep++] = (ranked){w, bp.a[i], bp.b[i], i};
  }
  qsort(keep, nkeep, sizeof *keep, strongest_first);
  size_t m = nkeep ? nkeep : 1;
  out->a = malloc(m * sizeof *out->a);
  out->b = malloc(m * sizeof *out->b);
  out->weight = malloc(m * sizeof *out->weight);
  out->probability = malloc(m * sizeof *out->probability);
  out->vectors = malloc(m * F);
  out->joined = malloc(m);
  out->parts = malloc(m * F * sizeof *out->parts);
  size_t G = (size_t)out->model.ngroups;
  out->group_parts = malloc(m * (G ? G : 1) * sizeof *out->group_parts);
  out->group_levels = malloc(m * (G ? G : 1));
  if (!out->a || !out->b || !out->weight || !out->probability || !out->vectors || !out->joined || !out->parts ||
      !out->group_parts || !out->group_levels)
    goto out;
  for (size_t k = 0; k < nkeep; k++) {
    out->a[k] = keep[k].a;
    out->b[k] = keep[k].b;
    memcpy(out->vectors + k * F, vectors + keep[k].i * F, F);
    double parts[PX_EM_MAX_FIELDS + PX_EM_MAX_GROUPS];
    out->weight[k] = weigh(cfg, &out->model, &r, &sc, keep[k].a, out->vectors + k * F, parts,
                           out->group_levels + k * G);
    memcpy(out->parts + k * F, parts, F * sizeof *parts);
    if (G) memcpy(out->group_parts + k * G, parts + F, G * sizeof *parts);
    out->probability[k] = 1.0 / (1.0 + exp2(-(out->weight[k] + prior)));
  }
  out->npairs = nkeep;
  s = px_cluster_joined(n, out->a, out->b, out->weight, nkeep, cfg->max_cluster, out->joined, &out->clusters);
out:
  free(keep);
  free(vectors);
  px_block_free(&bp);
  px_match_records_free(&r);
  if (s != PX_OK) px_link_free(out);
  else out->seconds = now() - t0;
  return s;
}

void px_link_free(px_link_result *r) {
  if (!r) return;
  free(r->a);
  free(r->b);
  free(r->weight);
  free(r->probability);
  free(r->vectors);
  free(r->joined);
  free(r->parts);
  free(r->group_parts);
  free(r->group_levels);
  px_clusters_free(&r->clusters);
  memset(r, 0, sizeof *r);
}

const char *px_link_group_level_name(int level) {
  static const char *const names[] = {"null", "kept", "changed"};
  return names[(unsigned)level % 3];
}

px_status px_link_explain(const px_match_config *cfg, const px_link_result *r, size_t i, px_buf *out) {
  if (i >= r->npairs) return PX_NOT_FOUND;
  size_t F = (size_t)cfg->nfields;
  px_buf_printf(out, "{\"a\":%u,\"b\":%u,\"weight\":%.12g,\"probability\":%.12g,\"joined\":%s,\"fields\":[", r->a[i],
                r->b[i], r->weight[i], r->probability[i], r->joined[i] ? "true" : "false");
  for (size_t f = 0; f < F; f++) {
    char buf[64];
    px_buf_puts(out, f ? ",{\"field\":" : "{\"field\":");
    px_buf_json_str(out, cfg->fields[f].name, strlen(cfg->fields[f].name));
    px_buf_puts(out, ",\"level\":");
    const char *name = px_match_level_name(&cfg->fields[f], r->vectors[i * F + f], buf, sizeof buf);
    px_buf_json_str(out, name, strlen(name));
    px_buf_printf(out, ",\"weight\":%.12g}", r->parts[i * F + f]); /* enough digits for the parts to add up */
  }
  for (size_t g = 0; g < (size_t)r->model.ngroups && g < (size_t)cfg->ngroups; g++) {
    size_t G = (size_t)r->model.ngroups;
    px_buf_puts(out, ",{\"field\":");
    px_buf_json_str(out, cfg->groups[g].name, strlen(cfg->groups[g].name));
    px_buf_printf(out, ",\"level\":\"%s\",\"weight\":%.12g}", px_link_group_level_name(r->group_levels[i * G + g]),
                  r->group_parts[i * G + g]);
  }
  return px_buf_puts(out, "]}");
}

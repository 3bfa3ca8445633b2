#include "match/cluster.h"

#include <stdlib.h>
#include <string.h>

static uint32_t find(uint32_t *parent, uint32_t x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]]; /* path halving */
  return x;
}

typedef struct edge {
  double w;
  size_t i; /* position in the input: ties keep their order */
} edge;

static int stronger_first(const void *x, const void *y) {
  const edge *a = x, *b = y;
  if (a->w != b->w) return a->w < b->w ? 1 : -1;
  return (a->i > b->i) - (a->i < b->i);
}

px_status px_cluster(size_t n, const uint32_t *a, const uint32_t *b, const double *w, size_t npairs,
                     size_t max_size, px_clusters *out) {
  return px_cluster_joined(n, a, b, w, npairs, max_size, NULL, out);
}

px_status px_cluster_joined(size_t n, const uint32_t *a, const uint32_t *b, const double *w, size_t npairs,
                            size_t max_size, unsigned char *joined, px_clusters *out) {
  memset(out, 0, sizeof *out);
  if (n > UINT32_MAX) return PX_INVALID;
  uint32_t *parent = malloc((n ? n : 1) * sizeof *parent), *size = malloc((n ? n : 1) * sizeof *size);
  edge *e = malloc((npairs ? npairs : 1) * sizeof *e);
  if (!parent || !size || !e) {
    free(parent), free(size), free(e);
    return PX_NOMEM;
  }
  for (size_t i = 0; i < n; i++) parent[i] = (uint32_t)i, size[i] = 1;
  for (size_t i = 0; i < npairs; i++) e[i] = (edge){w[i], i};
  if (joined && npairs) memset(joined, 0, npairs);
  qsort(e, npairs, sizeof *e, stronger_first);
  for (size_t k = 0; k < npairs; k++) {
    size_t i = e[k].i;
    if (a[i] >= n || b[i] >= n) continue;
    uint32_t ra = find(parent, a[i]), rb = find(parent, b[i]);
    if (ra == rb) continue;
    if (max_size && size[ra] + size[rb] > max_size) {
      out->refused++;
      continue;
    }
    if (size[ra] < size[rb]) {
      uint32_t t = ra;
      ra = rb, rb = t;
    }
    parent[rb] = ra;
    size[ra] += size[rb];
    if (joined) joined[i] = 1;
  }
  free(e);
  /* Name each cluster by its smallest record: stable whatever the order of merging. */
  uint32_t *name = size; /* reused: the root's name */
  for (size_t i = 0; i < n; i++) name[i] = UINT32_MAX;
  out->id = malloc((n ? n : 1) * sizeof *out->id);
  if (!out->id) {
    free(parent), free(size);
    return PX_NOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t r = find(parent, (uint32_t)i);
    if (name[r] == UINT32_MAX) {
      name[r] = (uint32_t)i; /* i ascends: the first seen is the smallest */
      out->clusters++;
    }
    out->id[i] = name[r];
  }
  out->n = n;
  free(parent), free(size);
  return PX_OK;
}

void px_clusters_free(px_clusters *c) {
  if (!c) return;
  free(c->id);
  memset(c, 0, sizeof *c);
}

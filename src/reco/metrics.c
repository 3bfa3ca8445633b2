/* Ranking metrics: see metrics.h. */
#include "reco/metrics.h"

#include <math.h>
#include <string.h>

static int has(const uint32_t *sorted, size_t n, uint32_t v) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && sorted[lo] == v;
}

void px_reco_metrics_at(const uint32_t *ranked, size_t n_ranked, const uint32_t *relevant, size_t n_relevant,
                        size_t k, px_reco_metrics *out) {
  memset(out, 0, sizeof *out);
  if (!k || !n_relevant) return;
  size_t m = k < n_relevant ? k : n_relevant, upto = n_ranked < k ? n_ranked : k;
  double dcg = 0, idcg = 0, ap = 0;
  for (size_t r = 0; r < upto; r++) {
    if (!has(relevant, n_relevant, ranked[r])) continue;
    out->hits++;
    dcg += 1 / log2((double)r + 2);
    ap += (double)out->hits / (double)(r + 1);
  }
  for (size_t r = 0; r < m; r++) idcg += 1 / log2((double)r + 2);
  out->precision = (double)out->hits / (double)k;
  out->recall = (double)out->hits / (double)n_relevant;
  out->ndcg = dcg / idcg;
  out->ap = ap / (double)m;
}

/* Ranking metrics for one user at a cutoff k, with binary relevance (an
 * item is relevant or not). ranked: the items recommended, best first
 * (only the first k count); relevant: the user's relevant items, sorted
 * ascending and distinct. With hits h = relevant items among the first k
 * and m = min(k, |relevant|):
 *
 *   precision@k = h / k                       (k, even when fewer were ranked)
 *   recall@k    = h / |relevant|
 *   AP@k        = (1/m) sum over ranks r <= k holding a relevant item of
 *                 (relevant items among the first r) / r
 *   nDCG@k      = DCG / IDCG, DCG = sum over ranks r <= k holding a
 *                 relevant item of 1 / log2(r + 1), IDCG the same for the
 *                 first m ranks all relevant
 *
 * All four are 0 when relevant is empty (callers leave such users out);
 * MAP@k is the mean of AP@k over users. See docs/internals/reco.md. */
#ifndef PX_RECO_METRICS_H
#define PX_RECO_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct px_reco_metrics {
  double precision, recall, ndcg, ap;
  size_t hits;
} px_reco_metrics;

void px_reco_metrics_at(const uint32_t *ranked, size_t n_ranked, const uint32_t *relevant, size_t n_relevant,
                        size_t k, px_reco_metrics *out);

#endif

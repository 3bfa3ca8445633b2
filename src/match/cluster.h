/* Clusters of records from matched pairs: connected components, built from
 * the strongest pairs down, with a size limit. A pair that would join two
 * clusters into one over the limit is refused and counted, so one bad link
 * (a shared family e-mail, a placeholder phone) cannot chain thousands of
 * people into one: the giant cluster is split where its links are weakest.
 * See docs/internals/match.md. */
#ifndef PX_MATCH_CLUSTER_H
#define PX_MATCH_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct px_clusters {
  uint32_t *id;    /* per record: its cluster, named by its smallest record */
  size_t n;        /* records */
  size_t clusters; /* of every size, singletons included */
  size_t refused;  /* pairs not applied: they would have passed the limit */
} px_clusters;

/* n records; npairs pairs (a[i], b[i]) of weight w[i] (higher: stronger). */
px_status px_cluster(size_t n, const uint32_t *a, const uint32_t *b, const double *w, size_t npairs,
                     size_t max_size, px_clusters *out);
/* The same, and joined[i] (when not NULL) says whether pair i was applied:
 * 1 when it joined two clusters, 0 when refused or already in one. */
px_status px_cluster_joined(size_t n, const uint32_t *a, const uint32_t *b, const double *w, size_t npairs,
                            size_t max_size, unsigned char *joined, px_clusters *out);
void px_clusters_free(px_clusters *c);

#endif

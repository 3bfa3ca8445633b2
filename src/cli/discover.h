/* pickaxe discover's state and output (cmd_discover.c runs the command,
 * discover.c writes what it found and the saved cluster's rule). */
#ifndef PX_CLI_DISCOVER_H
#define PX_CLI_DISCOVER_H

#include <stdint.h>

#include "base/buf.h"
#include "score/kmeans.h"
#include "segment/features.h"

typedef struct px_discover_args {
  const char *data, *features, *log, *as;
  int k, kmax; /* 0: default */
  int json;
  int save; /* the cluster to save, or -1 */
  uint64_t seed;
} px_discover_args;

typedef struct px_discover {
  px_feature *f; /* d features (malloc'd) */
  int d;
  unsigned char log1p[PX_FEATURES_MAX];
  int64_t now_ms; /* the clock of reading, fitting and saving */
  px_feature_rows rows;
  px_kmeans_model model;
  /* Saving: */
  char *rule;               /* the cluster's rule, canonical (malloc'd) */
  uint64_t version;         /* the segment's version */
  uint64_t members;         /* its members once defined */
  uint64_t differ;          /* fitted profiles whose membership is not their label's */
  int saved;                /* the cluster saved, -1 none */
} px_discover;

void px_discover_free(px_discover *dv);

/* The saved cluster's rule into dv->rule (compiled and printed canonical). */
px_status px_discover_rule(px_discover *dv, int c, px_error *err);
/* After the segment was defined: its version, members and the fitted
 * profiles whose membership differs from their label. */
px_status px_discover_check(px_txn *txn, const px_store *st, px_discover *dv, const char *name, int c);

/* Output: text, or a JSON object left open (the caller adds "saved" and
 * the closing brace). */
px_status px_discover_print(const px_discover *dv, px_buf *out);
px_status px_discover_json(const px_discover *dv, px_buf *out);
px_status px_discover_print_left_out(const px_discover *dv, px_buf *out);
px_status px_discover_print_saved(const px_discover *dv, const px_discover_args *a, px_buf *out);

#endif

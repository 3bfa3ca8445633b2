/* Per-profile features for segment discovery (`pickaxe discover`): values
 * named as rules name them (docs/RULES.md, "What a rule reads"), read for
 * every live profile as numbers, so that a cluster found over them can be
 * saved as a rule over the same values. Times (first_seen, last_seen, a
 * computed first/last of no property, or any reference written
 * days_since(REF)) are read as whole days since then, exactly as the rule
 * function days_since gives them. See docs/internals/score.md. */
#ifndef PX_SEGMENT_FEATURES_H
#define PX_SEGMENT_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "config/config.h"
#include "rule/rule.h"
#include "store/store.h"

#define PX_FEATURES_MAX 64         /* features in one list */
#define PX_FEATURE_TEXT 600        /* a feature as written (trimmed), with its NUL */
#define PX_FEATURE_WORDS 300       /* labels and words, with their NUL */

typedef struct px_feature {
  char ref[PX_FEATURE_TEXT]; /* the reference as rule text ("computed.orders", "last_seen") */
  px_rule_ns ns;
  char name[PX_RULE_NAME_MAX]; /* within ns ("orders") */
  int days;                    /* read as whole days since a time (days_since(ref)) */
  int count;                   /* a count (events, count or distinct): "many" / "few" */
  char label[PX_FEATURE_WORDS];  /* for people: "orders", "days since last purchase" */
  char high[PX_FEATURE_WORDS];   /* a cluster well above average: "many orders", "last purchase long ago" */
  char low[PX_FEATURE_WORDS];    /* ... well below: "few orders", "last purchase recently" */
  const char *unit;              /* "days" or NULL */
} px_feature;

/* Parses a comma-separated list of references (commas inside double
 * quotes belong to a name; spaces around items are dropped): each item a
 * reference px_rule_reference reads, or days_since(REFERENCE). *out is
 * malloc'd (free it), *n its length, 1..PX_FEATURES_MAX. PX_INVALID with
 * err->field the item and err->reason what is wrong (an empty item, not a
 * reference, consent or identifier (not numbers), listed twice, too many);
 * PX_NOMEM. Words are filled in by px_features_prepare. */
px_status px_features_parse(const char *list, px_feature **out, int *n, px_error *err);

/* Checks the features against the store and completes them: a computed
 * trait must be defined (its function tells whether it is a time or a
 * count); days_since of a value that is never a time is refused. Fills
 * days, count and the words. PX_INVALID with err; a store error. */
px_status px_features_prepare(px_txn *txn, const px_store *st, px_feature *f, int d, px_error *err);

/* The rows read: every live profile with every feature a finite number
 * (and >= 0 where log1p is asked), in profile id order. */
typedef struct px_feature_rows {
  double *x;         /* n x d, row by row */
  uint64_t *pids;    /* n: each row's profile */
  size_t n;
  uint64_t profiles; /* live profiles read */
  uint64_t left_out; /* of them, without every feature (profiles - n) */
  uint64_t missing[PX_FEATURES_MAX];  /* per feature: profiles where it is missing or not a number */
  uint64_t negative[PX_FEATURES_MAX]; /* per log1p feature: profiles where it is below 0 */
} px_feature_rows;

/* Reads the d features of every live profile at now_ms (computed traits'
 * windows, days since). log1p (d flags, may be NULL): a row with a
 * negative value in such a feature is left out too (log1p(x) is null for
 * x < 0 in rules). *out must be zeroed; free with px_feature_rows_free. */
px_status px_features_read(px_txn *txn, const px_store *st, const px_config *cfg, const px_feature *f, int d,
                           const unsigned char *log1p, int64_t now_ms, px_feature_rows *out);
void px_feature_rows_free(px_feature_rows *r);

/* Feature f's value as rule text, after the transform: "computed.orders",
 * "days_since(last_seen)", "log1p(computed.revenue)". PX_TOO_LARGE if it
 * does not fit in cap bytes. */
px_status px_feature_term(const px_feature *f, int log1p, char *out, size_t cap);

#endif

/* Recommendations in the platform (issue 6): the item-to-item model of
 * src/reco trained from what customers did, kept in the store, and served
 * per customer and per item with the catalog's stock and categories.
 *
 * The definition (pickaxe apply {"recommendations": ...}, PUT
 * /v1/recommendations):
 *
 *   {"interactions": [
 *      {"event": "Order Completed", "item": "products[].product_id", "kind": "purchase", "weight": 1},
 *      {"event": "Product Added", "item": "product_id", "kind": "cart", "weight": 0.5},
 *      {"event": "Product Viewed", "item": "product_id", "kind": "view", "weight": 0.25,
 *       "where": "..."}],
 *    "neighbours": 50, "shrinkage": 5, "locality": 3, "half_life": null,
 *    "recent_items": 100, "repurchase_after": null, "max_per_category": 0,
 *    "catalog_only": false, "exclude": null, "fallback_segments": [],
 *    "refresh_every": "1m"}
 *
 * Each interaction becomes an internal computed trait _reco_N (function
 * items: per profile, the distinct items with their latest time), kept as
 * events arrive, merged with profiles and backfilled when defined. A model
 * is trained from those states over every live profile (px_recs_train) and
 * queried with a read transaction (px_recs_for_profile, px_recs_similar);
 * the server retrains in the background every refresh_every when the log
 * changed (px_recs_service). See docs/internals/recs.md. */
#ifndef PX_RECS_RECS_H
#define PX_RECS_RECS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "config/config.h"
#include "reco/recommend.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "store/store.h"

#define PX_RECS_DEF_NAME "recommendations"
#define PX_RECS_TRAIT_PREFIX "_reco_" /* the interactions' computed traits: _reco_0, _reco_1, ... */
#define PX_RECS_MAX_INTERACTIONS 8
#define PX_RECS_MAX_SEGMENTS 16
#define PX_RECS_MAX_N 100       /* results per query */
#define PX_RECS_MAX_EXCLUDE 100 /* items a query may exclude by id */
#define PX_RECS_SEGMENT_TOP 1000 /* items kept per fallback segment's popularity */

typedef enum px_recs_kind { PX_RECS_PURCHASE = 0, PX_RECS_CART, PX_RECS_VIEW } px_recs_kind;

typedef struct px_recs_interaction {
  char event[PX_RULE_NAME_MAX];
  char item[PX_RULE_NAME_MAX]; /* a property path; one "[]" step reads every element of an array */
  px_recs_kind kind;           /* purchases are owned: not recommended again (see repurchase_ms) */
  double weight;               /* > 0; a customer's weight for an item is the largest of its kinds' */
  char *where;                 /* an event rule's text, or NULL (owned) */
} px_recs_interaction;

typedef struct px_recs_def {
  px_recs_interaction in[PX_RECS_MAX_INTERACTIONS];
  size_t n_in;
  uint32_t neighbours;       /* K (1..1000; 50) */
  double shrinkage;          /* lambda (>= 0; 5) */
  double locality;           /* q (0 < q <= 10; 3) */
  int64_t half_life_ms;      /* training decay (0: none) */
  uint32_t recent_items;     /* a customer is scored from this many most recent items (0: all; 100) */
  int64_t repurchase_ms;     /* owned items come back this long after their last purchase (0: never) */
  uint32_t max_per_category; /* per category of the catalog among the results (0: no cap) */
  int catalog_only;          /* recommend only items the catalog has */
  char *exclude;             /* an event rule over each product (its JSON as properties, category as
                                "A > B"), items it holds for are never recommended; NULL: none (owned) */
  char segments[PX_RECS_MAX_SEGMENTS][PX_DEF_NAME_MAX]; /* fallback segments, in order of preference */
  size_t n_segments;
  int64_t every_ms; /* retraining period of the server (1m) */
} px_recs_def;

/* Parses a definition (j: the object above; absent members take the
 * defaults shown). PX_INVALID with err->field "recommendations.MEMBER"
 * (err may be NULL). Free with px_recs_def_free. */
px_status px_recs_def_parse(const cJSON *j, px_recs_def *out, px_error *err);
void px_recs_def_free(px_recs_def *d);
/* Every member, as compact JSON that parses back to the same definition. */
px_status px_recs_def_print(const px_recs_def *d, px_buf *out);

/* Stores the definition (json: n bytes) and defines its interactions'
 * computed traits (backfilled over every profile; those of interactions
 * it no longer has are deleted) in txn. Errors as px_recs_def_parse. */
px_status px_recs_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *json, size_t n,
                         int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err);
/* The stored definition. PX_NOT_FOUND when there is none. */
px_status px_recs_def_get(px_txn *txn, const px_store *st, px_recs_def *out, int64_t *updated_ms);

/* ---- the model ---- */

typedef struct px_recs_stats {
  int64_t trained_ms;     /* when (the reference time of decay and repurchase) */
  int64_t def_updated_ms; /* the definition it was trained with */
  size_t profiles;        /* live profiles read */
  size_t customers;       /* those with at least one item */
  size_t items;           /* distinct items */
  size_t pairs;           /* (customer, item) pairs */
  size_t neighbours;      /* (item, neighbour) entries kept */
  size_t catalog;         /* catalog products read */
  size_t excluded;        /* items excluded by the rule or by catalog_only */
  double read_s, train_s, catalog_s, total_s;
} px_recs_stats;

typedef struct px_recs_model px_recs_model;

/* Trains a model from the store's current state at now_ms: what it needs
 * is read in one read transaction of its own, ended before the fitting.
 * PX_NOT_FOUND without a definition; PX_STORE when an interaction's
 * computed trait is missing (deleted by hand: applying the definition
 * again brings it back). The model holds what a query
 * needs besides the store; it is read-only, shared by any number of
 * threads, each querying with its own px_reco_query. */
px_status px_recs_train(px_store *st, int64_t now_ms, px_recs_model **out);
void px_recs_model_free(px_recs_model *m); /* NULL is fine */
const px_recs_stats *px_recs_model_stats(const px_recs_model *m);
/* A query object for m (px_reco_query_new on its item model). */
px_status px_recs_query_new(const px_recs_model *m, px_reco_query **out);

/* ---- queries ---- */

typedef struct px_recs_opts {
  size_t n;                   /* results (1..PX_RECS_MAX_N) */
  const char *const *exclude; /* item ids not to recommend (the cart, what the page shows) */
  size_t n_exclude;
  const char *segment;        /* a fallback segment to use (NULL: the first of the definition's the
                                 profile is in, else overall popularity) */
  int64_t now_ms;
} px_recs_opts;

/* Splits a comma-separated list of item ids in place (empty ones skipped)
 * into ids (room for PX_RECS_MAX_EXCLUDE), *n of them; 0 when there are
 * more. */
int px_recs_split_ids(char *list, const char **ids, size_t *n);

/* Profile pid's recommendations as JSON appended to out:
 *   {"profile": ID, "items": [{"id", "score", "source": "similar"|"popular",
 *     "reasons": [{"id", "score"}...], "product": {catalog}?}...],
 *    "fallback": "overall"|{"segment": NAME}|null, "model": {"trained_at"}}
 * (a popular item's score: its popularity overall or in the segment)
 * Scored from the customer's recent items, without what they own (bought
 * within the repurchase window), out-of-stock products (read now, from the
 * catalog), items the rule excludes and opts->exclude; category cap; the
 * fallback fills the rest. PX_INVALID (err) for bad options. */
px_status px_recs_for_profile(const px_recs_model *m, px_reco_query *q, px_txn *txn, const px_store *st,
                              uint64_t pid, const px_recs_opts *opts, px_buf *out, px_error *err);

/* Item's neighbours ("bought together") as
 *   {"item": ID, "items": [{"id", "score", "product"?}...], "model": {...}}
 * without out-of-stock or excluded products. PX_NOT_FOUND when the model
 * does not know the item. */
px_status px_recs_similar(const px_recs_model *m, px_reco_query *q, px_txn *txn, const px_store *st,
                          const char *item, size_t item_n, const px_recs_opts *opts, px_buf *out, px_error *err);

/* Appends the model's figures as a JSON object (stats above, times ISO). */
px_status px_recs_stats_json(const px_recs_stats *s, px_buf *out);

/* ---- the server's model (service.c) ---- */

/* Keeps the current model of a store and retrains it on a thread of its
 * own every refresh_every when the log changed since the last training;
 * queries take a reference to the model current when they start, and a
 * query object from its pool. */
typedef struct px_recs_service px_recs_service;

px_status px_recs_service_start(px_store *st, px_recs_service **out);
void px_recs_service_stop(px_recs_service *s); /* NULL is fine */

/* A reference to the current model and a query object for it; give both
 * back with px_recs_service_release. NULL when there is none: *why is
 * PX_OK while a training is due (at start, after a poke), PX_NOT_FOUND
 * without a definition, or the last training's error. */
const px_recs_model *px_recs_service_acquire(px_recs_service *s, px_reco_query **q, px_status *why);
void px_recs_service_release(px_recs_service *s, const px_recs_model *m, px_reco_query *q);

/* Trains now (waiting for a training in progress first) and makes the
 * result current; *stats (may be NULL) gets its figures. */
px_status px_recs_service_refresh(px_recs_service *s, px_recs_stats *stats);

/* The definition changed: train as soon as possible; until then queries
 * without a model are told one is coming (px_recs_service_acquire's *why
 * PX_OK), not that none is configured. */
void px_recs_service_poke(px_recs_service *s);

#endif

/* Customer lifetime value built into the platform (issue 5): the
 * definition (which event is a purchase and which property its amount, the
 * model's time unit, the CLV horizon and discount rate, how often to
 * refit), and the refresh that summarizes every live profile's purchase
 * days (clv/summary.h; kept per profile, as events arrive, by the computed
 * trait PX_CLV_TRAIT), fits the BG/NBD and Gamma-Gamma models
 * (clv/btyd.h), keeps the fitted model as a new version, and writes each
 * customer's scores (score/scores.h), re-evaluating the segments that read
 * them.
 *
 * Scores written per customer (a profile with at least one purchase up to
 * the refresh; rules read them as score.NAME):
 *   p_alive                  probability the customer is still active
 *   expected_purchases_90d   expected purchases in the next 90 days
 *   expected_spend           expected mean amount of a future purchase
 *   clv                      expected spend over the horizon, discounted
 *   clv_model                the model version they come from
 * expected_spend and clv are left out when the spend model could not be
 * fitted. Profiles that no longer qualify (merged away) lose them. The
 * refresh's summary is under PX_SCORE_GLOBAL "clv", each fitted model under
 * "clv_model.NNNNNNNNNN" (the last PX_CLV_MODELS_KEPT). See
 * docs/internals/score.md. */
#ifndef PX_SEGMENT_CLV_REFRESH_H
#define PX_SEGMENT_CLV_REFRESH_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "config/config.h"
#include "rule/rule.h"
#include "segment/engine.h"
#include "store/store.h"

#define PX_CLV_DEF_NAME "clv"   /* the PX_DEF_CLV definition's name */
#define PX_CLV_TRAIT "_clv_purchases" /* the computed trait (function daily) the refresh reads */
#define PX_CLV_SUMMARY "clv"    /* the last refresh's summary, under PX_SCORE_GLOBAL */
#define PX_CLV_MODEL_PREFIX "clv_model." /* + version (10 digits): fitted models, under PX_SCORE_GLOBAL */
#define PX_CLV_MODELS_KEPT 100
#define PX_CLV_EVERY_DEFAULT_MS (24LL * 3600 * 1000)
#define PX_CLV_HORIZON_DEFAULT_MS (365LL * 86400000)
#define PX_CLV_DISCOUNT_DEFAULT 0.1

typedef struct px_clv_def {
  char event[PX_RULE_NAME_MAX];   /* the purchase event's name */
  char revenue[PX_RULE_NAME_MAX]; /* the property path of its amount */
  double unit_days;               /* the models' time unit: 7 (weeks, the default) or 1 */
  int64_t horizon_ms;             /* the CLV horizon: a whole number of days, 1 to 3650 */
  double discount;                /* annual discount rate, 0 to 1 */
  int64_t every_ms;               /* scheduled refit interval; 0: only on demand */
} px_clv_def;

/* Parses {"event", "revenue", "unit", "horizon", "discount_rate",
 * "refresh_every"}: event required; revenue (default "revenue"), unit
 * "week" (default) or "day", horizon a window ("365d", "52w"; default
 * 365d), discount_rate a number in [0, 1] (default 0.1), refresh_every as
 * for RFM (default "24h"). Unknown members are errors; err names the
 * member ("clv.horizon"). */
px_status px_clv_def_parse(const cJSON *j, px_clv_def *out, px_error *err);
/* The definition as JSON, every member given. */
px_status px_clv_def_print(const px_clv_def *d, px_buf *out);

/* Stores the CLV definition (json: n bytes, px_clv_def_parse's format) and
 * defines the computed trait PX_CLV_TRAIT it reads: function daily over the
 * purchase event's amount (per UTC day: purchases, those without an
 * amount, the amounts' sum), kept current as events arrive and backfilled
 * when new or changed. PX_INVALID with err->field "clv.MEMBER". */
px_status px_clv_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *json, size_t n,
                        int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err);

/* The stored definition and when it last changed; PX_NOT_FOUND when CLV is
 * not configured. */
px_status px_clv_def_get(px_txn *txn, const px_store *st, px_clv_def *out, int64_t *updated_ms);

/* When the next scheduled refresh is due: at once when configured and never
 * refreshed or changed since; else the last refresh + every_ms. INT64_MAX
 * when not configured or only on demand. */
px_status px_clv_next_due(px_txn *txn, const px_store *st, int64_t *due_ms);

typedef struct px_clv_summary_out {
  int64_t refreshed_ms;
  int fitted;              /* a model was fitted and customers scored */
  px_status fit_status;    /* why not, when !fitted: PX_INVALID (no repeat purchase), PX_NOT_CONVERGED */
  uint32_t model;          /* the model version written (0 when !fitted) */
  uint64_t profiles;       /* live profiles looked at */
  uint64_t customers;      /* with at least one purchase up to the refresh */
  uint64_t repeat_customers;
  uint64_t purchases;      /* purchase events taken (same-day ones count each) */
  uint64_t no_amount;      /* of which without a numeric amount (counted as 0) */
  uint64_t changed;        /* customers whose scores changed */
  uint64_t removed;        /* profiles whose CLV scores were removed */
  double read_ms, fit_ms, score_ms; /* the three phases' wall time */
} px_clv_summary_out;

/* The refresh in two phases, so that the write lock is held only for the
 * writes: px_clv_prepare reads every profile's purchases, fits and
 * computes every customer's numbers in txn (a read transaction will do);
 * px_clv_apply then stores the model, the scores (as of prepare's now),
 * the removals and the summary in a write transaction, re-evaluating
 * segments at now_ms (the time of the write: not before anything the
 * store holds). A profile merged away in between gets no scores; its
 * survivor is scored on both at the next refresh. *run is set only on
 * PX_OK; free it with px_clv_run_free. */
typedef struct px_clv_run px_clv_run;
px_status px_clv_prepare(px_txn *txn, const px_store *st, int64_t now_ms, px_segment_progress_fn progress, void *arg,
                         px_clv_run **run, px_clv_summary_out *out);
px_status px_clv_apply(px_txn *txn, const px_store *st, const px_config *cfg, const px_clv_run *run, int64_t now_ms,
                       px_clv_summary_out *out);
void px_clv_run_free(px_clv_run *run);

/* Both phases in one transaction: refits and rescores at now_ms as described above and stores the summary
 * (also when the models cannot be fitted: then nothing else changes, the
 * previous model and scores stay, and out->fitted is 0 with fit_status
 * saying why). PX_NOT_FOUND when CLV is not configured. progress (may be
 * NULL) is called every 1,000 profiles while reading. */
px_status px_clv_refresh(px_txn *txn, const px_store *st, const px_config *cfg, int64_t now_ms,
                         px_segment_progress_fn progress, void *arg, px_clv_summary_out *out);

/* Why a refresh fitted no model (its fit_status), in words. */
const char *px_clv_unfitted_reason(px_status fit_status);

/* Appends {"definition", "model": the current model or null,
 * "last_refresh": SUMMARY or null, "next_refresh_at": ISO or null}.
 * PX_NOT_FOUND when CLV is not configured. */
px_status px_clv_status(px_txn *txn, const px_store *st, px_buf *out);

/* Appends {"models": [MODEL...]} newest first (PX_NOT_FOUND when CLV is
 * not configured), where MODEL is {"version",
 * "fitted_at", "calibration_end", "unit", "event", "revenue", "customers",
 * "repeat_customers", "bgnbd": {"r", "alpha", "a", "b", "loglik"},
 * "gamma_gamma": {"p", "q", "gamma", "loglik"} or null, "horizon",
 * "discount_rate"}. */
px_status px_clv_models(px_txn *txn, const px_store *st, px_buf *out);

#endif

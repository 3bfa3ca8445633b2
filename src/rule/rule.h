/* The rule language: one small, typed expression language for segments
 * (and later offers, suppressions and triggers). A rule is compiled once
 * (parsed, type-checked, errors with line and column) and evaluated many
 * times against a profile through callbacks, so this module knows nothing
 * of storage. Behaviour conditions ("at least 2 orders in the last 90
 * days") compile to aggregations (px_rule_agg) that the caller keeps
 * current incrementally (src/compute) and hands back by index at
 * evaluation. Grammar and examples: docs/RULES.md. */
#ifndef PX_RULE_RULE_H
#define PX_RULE_RULE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define PX_RULE_MAX_BYTES 16384 /* a rule's source text */
#define PX_RULE_NAME_MAX 256    /* trait, property, event and segment names */
#define PX_RULE_MAX_DEPTH 64    /* nesting: parentheses, not, minus, operators */
#define PX_RULE_MAX_AGGS 32     /* distinct aggregations in one rule */
#define PX_RULE_MAX_SEGMENTS 32 /* distinct segments one rule reads */

typedef enum px_rule_vtype {
  PX_RV_NULL = 0, /* absent */
  PX_RV_BOOL,
  PX_RV_NUM,
  PX_RV_STR,
  PX_RV_TIME, /* milliseconds since the epoch, UTC */
} px_rule_vtype;

/* A value read or computed during evaluation. Strings are borrowed: what an
 * env callback returns must stay valid until px_rule_eval returns (a rule
 * may compare two traits). s need not be NUL-terminated. */
typedef struct px_rule_value {
  px_rule_vtype type;
  int b;
  double n;
  const char *s;
  size_t len;
  int64_t t;
  /* -1: a number that, with no new event, can only go down as time passes
   * and never below 0 (a windowed count): a comparison with a fixed bound
   * that it has lost, or that 0 decides, stays as it is, so it adds
   * nothing to the rule's until. 0: unknown. */
  int trend;
  /* A number that decays continuously with time (a decayed score): its
   * value at any later time t_ms, non-increasing in t and computed exactly
   * as the value at t will be (decay_arg borrowed like strings). The
   * evaluator finds when a comparison with a fixed bound flips from it;
   * anywhere else such a value is re-read every PX_RULE_DECAY_RECHECK_MS.
   * NULL for any other value. */
  double (*decay_at)(const void *decay_arg, int64_t t_ms);
  const void *decay_arg;
} px_rule_value;

/* How often a rule that uses a decaying value other than in a comparison
 * with a fixed number is re-evaluated. */
#define PX_RULE_DECAY_RECHECK_MS (3600 * 1000LL)

/* Where a named value lives on a profile. */
typedef enum px_rule_ns {
  PX_NS_TRAIT = 0,  /* traits.NAME (the golden value) */
  PX_NS_COMPUTED,   /* a declared computed trait by name */
  PX_NS_SCORE,      /* a score (rfm_recency, clv, ...) */
  PX_NS_ACCOUNT,    /* a trait of the profile's account (group) */
  PX_NS_CONSENT,    /* consent for a purpose: a boolean (absent: not given) */
  PX_NS_IDENTIFIER, /* an identifier kind: the profile's value of it, if any */
  PX_NS_PROFILE,    /* first_seen, last_seen (times), events (number) */
} px_rule_ns;

/* Aggregation functions over a profile's matching events. */
typedef enum px_agg_fn {
  PX_AGG_COUNT = 0,
  PX_AGG_SUM,
  PX_AGG_AVG,
  PX_AGG_MIN,
  PX_AGG_MAX,
  PX_AGG_FIRST,         /* the property's value on the earliest matching event */
  PX_AGG_LAST,          /* ... on the latest */
  PX_AGG_DISTINCT,      /* how many distinct values of the property */
  PX_AGG_MOST_FREQUENT, /* the property's most frequent value (ties: the latest seen) */
  PX_AGG_DECAY,         /* a decayed score over event types (computed traits only; px_decay_spec) */
  PX_AGG_DAILY,         /* per-day counts and sums of the property (computed traits only; compute.h) */
  PX_AGG_ITEMS,         /* per item (product id): latest event time and event count (computed traits only; compute.h) */
} px_agg_fn;

/* The terms of a decayed score: each event named event ("*": any track
 * event no other term names) adds weight (> 0), which then halves every
 * half_life_ms. */
#define PX_DECAY_MAX_TERMS 32
typedef struct px_decay_term {
  char event[PX_RULE_NAME_MAX];
  double weight;
  int64_t half_life_ms;
} px_decay_term;
typedef struct px_decay_spec {
  int n;
  px_decay_term t[PX_DECAY_MAX_TERMS];
} px_decay_spec;

typedef struct px_rule px_rule;

/* An aggregation over events: fn of property over the profile's events
 * named event (empty: any track event) for which where holds, over the
 * last window_ms before now (0: all time). Both behaviour conditions in
 * rules and declared computed traits are aggregations. */
typedef struct px_rule_agg {
  px_agg_fn fn;
  char event[PX_RULE_NAME_MAX];
  char property[PX_RULE_NAME_MAX]; /* a path into properties ("price", "product.category"); "" for count */
  const px_rule *where;            /* an event predicate (PX_RULE_EVENT), or NULL: every such event */
  int64_t window_ms;
  const px_decay_spec *decay;      /* PX_AGG_DECAY: its terms (event is "": any track event); else NULL */
} px_rule_agg;

/* What a rule is about. */
typedef enum px_rule_kind {
  PX_RULE_PROFILE = 0, /* over a profile (segments): reads the env */
  PX_RULE_EVENT,       /* over one event's properties (an aggregation's where) */
} px_rule_kind;

typedef struct px_rule_error {
  int line, column; /* 1-based, where the problem starts */
  char message[256]; /* what was found and what was expected */
} px_rule_error;

/* Compiles src (n bytes of UTF-8). PX_INVALID with err filled for a syntax
 * or type error, PX_TOO_LARGE (err filled) past PX_RULE_MAX_BYTES, PX_NOMEM.
 * err may be NULL. */
px_status px_rule_compile(const char *src, size_t n, px_rule_kind kind, px_rule **out, px_rule_error *err);
void px_rule_free(px_rule *r);

/* Reads src (n bytes) as one reference to a value of a profile, written as
 * in a rule: a trait (`country`, `trait."first name"`, `address.city`),
 * `computed.NAME`, `score.NAME`, `account.NAME`, `consent.PURPOSE`,
 * `identifier.KIND`, `first_seen`, `last_seen`, `profile.events`. *ns and
 * name (NUL-terminated) get where the value lives. PX_INVALID with err
 * (line, column, message) for anything else (an aggregation, an
 * expression); PX_NOMEM. */
px_status px_rule_reference(const char *src, size_t n, px_rule_ns *ns, char name[PX_RULE_NAME_MAX],
                            px_rule_error *err);

/* Whole days from t_ms to now_ms, rounded down (negative for a time to
 * come): what days_since(t) gives in a rule. 0 when it overflows. */
int px_rule_days_since(int64_t now_ms, int64_t t_ms, int64_t *days);

/* The aggregations a profile rule reads, in a stable order (the index the
 * env's aggregate callback is asked for). Owned by the rule. */
int px_rule_naggs(const px_rule *r);
const px_rule_agg *px_rule_agg_at(const px_rule *r, int i);

/* The segments a rule reads (for ordering and re-evaluation), by index. */
int px_rule_nsegments(const px_rule *r);
const char *px_rule_segment_at(const px_rule *r, int i);

/* The profile values a profile rule reads outside its aggregations, in
 * the rule's order, repeats included: reference i's namespace and name
 * (owned by the rule). `has KIND` reads identifier KIND. */
int px_rule_nrefs(const px_rule *r);
const char *px_rule_ref_at(const px_rule *r, int i, px_rule_ns *ns);

/* Whether the rule compares with the current time outside its
 * aggregations (`N days ago`, days_since): its result can change as time
 * passes whatever its inputs do. */
int px_rule_reads_now(const px_rule *r);

px_rule_kind px_rule_get_kind(const px_rule *r);

/* Whether two aggregations are the same (fn, event, property, window and an
 * equal where): one index in a rule, and a key for sharing them across rules. */
int px_rule_agg_equal(const px_rule_agg *a, const px_rule_agg *b);

/* The rule's canonical text (normalized spacing, quoting, sugar and
 * durations): rules written alike print alike, and the text compiles to a
 * rule that prints the same. Written to out from its start, NUL-terminated;
 * PX_TOO_LARGE if it does not fit in n bytes (out then holds ""). */
px_status px_rule_print(const px_rule *r, char *out, size_t n);

/* An aggregation as rule text: count(event "Order Completed" where ... in
 * last 90 days). Same contract as px_rule_print. */
px_status px_rule_agg_print(const px_rule_agg *a, char *out, size_t n);

/* The name of an aggregation function as written in rules ("count"). */
const char *px_rule_agg_fn_name(px_agg_fn fn);

/* What a profile rule reads, from its caller. */
typedef struct px_rule_env {
  void *arg;
  int64_t now_ms;
  /* The value of name in ns (PX_RV_NULL when absent). *valid_until_ms
   * comes in as INT64_MAX; lower it when the value changes with time alone
   * (a windowed computed trait, a recency score): the first instant at
   * which it may differ. PX_NS_PROFILE first_seen/last_seen may be given as
   * PX_RV_TIME, a number of milliseconds or an ISO 8601 string. */
  px_status (*get)(void *arg, px_rule_ns ns, const char *name, px_rule_value *out, int64_t *valid_until_ms);
  /* Whether the profile is in the segment. */
  px_status (*in_segment)(void *arg, const char *name, int *in);
  /* The value of the rule's aggregation i at now_ms, and until when it
   * stays that value if no event arrives: the first instant at which it may
   * differ (INT64_MAX: for ever). count, sum and distinct are numbers (0
   * over no events); avg, min and max are numbers or null; first, last and
   * most_frequent are the property's value or null. */
  px_status (*aggregate)(void *arg, int i, px_rule_value *out, int64_t *valid_until_ms);
} px_rule_env;

/* Evaluates a profile rule. *until gets the first instant at which the
 * result may change with no new event (a window passing, "over 30 days ago"
 * becoming true), INT64_MAX if never: the result holds for every now in
 * [now_ms, *until), and the caller re-evaluates at *until (it may be
 * earlier than necessary, never later). Allocates nothing. A callback's
 * error stops nothing but is returned (the result is then meaningless).
 * PX_INVALID for an event rule. */
px_status px_rule_eval(const px_rule *r, const px_rule_env *env, int *result, int64_t *until);

/* Evaluates an event rule over an event's properties (and its name; either
 * may be NULL). Allocates nothing. PX_INVALID for a profile rule. */
px_status px_rule_eval_event(const px_rule *r, const char *event_name, const cJSON *properties, int *result);

#endif

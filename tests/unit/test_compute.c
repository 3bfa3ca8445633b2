/* compute: incremental aggregations (observe, merge, value, expire), their
 * state encoding, and computed-trait definitions. The property test checks
 * incremental = recomputed from scratch by a naive reference written here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "px_test.h"

#define DAY 86400000LL
#define T0 1700000000000LL /* 2023-11-14 */

static px_rule_agg agg(px_agg_fn fn, const char *event, const char *property, int64_t window_ms) {
  px_rule_agg a;
  memset(&a, 0, sizeof a);
  a.fn = fn;
  snprintf(a.event, sizeof a.event, "%s", event);
  snprintf(a.property, sizeof a.property, "%s", property);
  a.window_ms = window_ms;
  return a;
}

/* Observes an event whose properties are given as JSON text. */
static int obs(const px_rule_agg *a, px_buf *st, const char *name, int64_t ts, uint64_t seq, const char *props,
               int64_t now) {
  cJSON *p = cJSON_Parse(props ? props : "{}");
  if (!p) fail_msg("bad test JSON %s", props);
  int changed = -1;
  PX_ASSERT_OK(px_agg_observe(a, st, name, ts, seq, p, now, &changed));
  cJSON_Delete(p);
  return changed;
}

static px_rule_value val(const px_rule_agg *a, const px_buf *st, int64_t now, int64_t *until) {
  static px_buf scratch; /* strings stay valid until the next call */
  if (!scratch.max) px_buf_init(&scratch, 0);
  px_rule_value v;
  int64_t u = 0;
  PX_ASSERT_OK(px_agg_value(a, st->data, st->len, now, &v, &u, &scratch));
  if (until) *until = u;
  return v;
}

static double num(const px_rule_agg *a, const px_buf *st, int64_t now) {
  px_rule_value v = val(a, st, now, NULL);
  if (v.type != PX_RV_NUM) fail_msg("value type %d, want a number", (int)v.type);
  return v.n;
}

static void assert_str(const px_rule_agg *a, const px_buf *st, int64_t now, const char *want) {
  px_rule_value v = val(a, st, now, NULL);
  PX_ASSERT_INT_EQ(v.type, PX_RV_STR);
  char got[512];
  snprintf(got, sizeof got, "%.*s", (int)v.len, v.s);
  PX_ASSERT_STR_EQ(got, want);
}

/* ---- each function on hand-made events ---- */

static void test_all_time_functions(void **state) {
  (void)state;
  const char *evs[][2] = {
      {"Order", "{\"total\": 10, \"cat\": \"garden\", \"product\": {\"category\": \"tools\"}}"},
      {"Order", "{\"total\": \"2.5\", \"cat\": \"books\", \"product\": {\"category\": \"tools\"}}"},
      {"Page", "{\"total\": 1000, \"cat\": \"garden\"}"},
      {"Order", "{\"total\": \"n/a\", \"cat\": \"garden\"}"},
      {"Order", "{\"total\": -4, \"cat\": true, \"product\": {\"category\": \"food\"}}"},
      {"Order", "{\"cat\": null}"},
  };
  struct {
    px_agg_fn fn;
    const char *prop;
    double want;
  } nums[] = {
      {PX_AGG_COUNT, "", 5},  {PX_AGG_COUNT, "total", 4},       {PX_AGG_COUNT, "product.category", 3},
      {PX_AGG_SUM, "total", 8.5}, {PX_AGG_AVG, "total", 8.5 / 3}, {PX_AGG_MIN, "total", -4},
      {PX_AGG_MAX, "total", 10},  {PX_AGG_DISTINCT, "cat", 3},    {PX_AGG_DISTINCT, "product.category", 2},
  };
  for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
    px_rule_agg a = agg(nums[k].fn, "Order", nums[k].prop, 0);
    px_buf st;
    px_buf_init(&st, 0);
    for (size_t i = 0; i < 6; i++) obs(&a, &st, evs[i][0], T0 + (int64_t)i * 1000, i + 1, evs[i][1], T0 + DAY);
    double got = num(&a, &st, T0 + DAY);
    if (fabs(got - nums[k].want) > 1e-12) fail_msg("%s(%s): %g, want %g", px_agg_fn_name(nums[k].fn), nums[k].prop, got, nums[k].want);
    int64_t until = 0;
    val(&a, &st, T0 + DAY, &until);
    PX_ASSERT_INT_EQ(until, INT64_MAX);
    px_buf_free(&st);
  }
  /* first, last, most_frequent (values), first/last of no property (times). */
  px_rule_agg first = agg(PX_AGG_FIRST, "Order", "cat", 0), last = agg(PX_AGG_LAST, "Order", "cat", 0);
  px_rule_agg mf = agg(PX_AGG_MOST_FREQUENT, "Order", "cat", 0), lt = agg(PX_AGG_LAST, "Order", "", 0);
  px_rule_agg ftot = agg(PX_AGG_FIRST, "", "total", 0);
  px_buf b1, b2, b3, b4, b5;
  px_buf_init(&b1, 0), px_buf_init(&b2, 0), px_buf_init(&b3, 0), px_buf_init(&b4, 0), px_buf_init(&b5, 0);
  for (size_t i = 0; i < 6; i++) {
    int64_t ts = T0 + (int64_t)i * 1000;
    obs(&first, &b1, evs[i][0], ts, i + 1, evs[i][1], T0 + DAY);
    obs(&last, &b2, evs[i][0], ts, i + 1, evs[i][1], T0 + DAY);
    obs(&mf, &b3, evs[i][0], ts, i + 1, evs[i][1], T0 + DAY);
    obs(&lt, &b4, evs[i][0], ts, i + 1, evs[i][1], T0 + DAY);
    obs(&ftot, &b5, evs[i][0], ts, i + 1, evs[i][1], T0 + DAY);
  }
  assert_str(&first, &b1, T0 + DAY, "garden");
  px_rule_value v = val(&last, &b2, T0 + DAY, NULL); /* null is skipped: true */
  PX_ASSERT_INT_EQ(v.type, PX_RV_BOOL);
  PX_ASSERT_INT_EQ(v.b, 1);
  assert_str(&mf, &b3, T0 + DAY, "garden");
  v = val(&lt, &b4, T0 + DAY, NULL);
  PX_ASSERT_INT_EQ(v.type, PX_RV_TIME);
  PX_ASSERT_INT_EQ(v.t, T0 + 5000);
  v = val(&ftot, &b5, T0 + DAY, NULL); /* any event; a numeric string stays a string */
  PX_ASSERT_INT_EQ(v.type, PX_RV_NUM);
  PX_ASSERT_TRUE(v.n == 10);
  px_buf_free(&b1), px_buf_free(&b2), px_buf_free(&b3), px_buf_free(&b4), px_buf_free(&b5);
}

static void test_empty_values(void **state) {
  (void)state;
  px_buf st;
  px_buf_init(&st, 0);
  for (int fn = PX_AGG_COUNT; fn <= PX_AGG_MOST_FREQUENT; fn++) {
    px_rule_agg a = agg((px_agg_fn)fn, "Order", "x", fn % 2 ? DAY : 0);
    px_rule_value v = val(&a, &st, T0, NULL);
    if (fn == PX_AGG_COUNT || fn == PX_AGG_SUM || fn == PX_AGG_DISTINCT) {
      PX_ASSERT_INT_EQ(v.type, PX_RV_NUM);
      PX_ASSERT_TRUE(v.n == 0);
    } else {
      PX_ASSERT_INT_EQ(v.type, PX_RV_NULL);
    }
    /* A non-matching event leaves the state alone. */
    PX_ASSERT_INT_EQ(obs(&a, &st, "Other", T0, 1, "{\"x\": 1}", T0), 0);
    PX_ASSERT_INT_EQ(st.len, 0);
  }
}

static void test_ties_and_seq(void **state) {
  (void)state;
  /* Same timestamp: first is the lower seq, last the higher; most frequent
   * ties go to the value seen latest. */
  px_rule_agg first = agg(PX_AGG_FIRST, "e", "v", 0), last = agg(PX_AGG_LAST, "e", "v", 0);
  px_rule_agg mf = agg(PX_AGG_MOST_FREQUENT, "e", "v", 0);
  px_buf a, b, c;
  px_buf_init(&a, 0), px_buf_init(&b, 0), px_buf_init(&c, 0);
  const char *v[] = {"{\"v\":\"x\"}", "{\"v\":\"y\"}", "{\"v\":\"y\"}", "{\"v\":\"x\"}"};
  uint64_t seqs[] = {7, 3, 9, 5};
  int64_t ts[] = {T0, T0, T0 - 10, T0 + 10};
  for (int i = 0; i < 4; i++) {
    obs(&first, &a, "e", T0, seqs[i], v[i], T0 + 100);
    obs(&last, &b, "e", T0, seqs[i], v[i], T0 + 100);
    obs(&mf, &c, "e", ts[i], seqs[i], v[i], T0 + 100);
  }
  assert_str(&first, &a, T0 + 100, "y");  /* seq 3 */
  assert_str(&last, &b, T0 + 100, "y");   /* seq 9 */
  assert_str(&mf, &c, T0 + 100, "x");     /* 2-2, x seen at T0+10 */
  px_buf_free(&a), px_buf_free(&b), px_buf_free(&c);
}

/* ---- windows and time passing ---- */

static void test_window_slides(void **state) {
  (void)state;
  px_rule_agg a = agg(PX_AGG_COUNT, "Order", "", 30 * DAY);
  px_rule_agg s = agg(PX_AGG_SUM, "Order", "total", 30 * DAY);
  px_buf st, ss;
  px_buf_init(&st, 0), px_buf_init(&ss, 0);
  /* Orders on days 0, 10, 20 (arriving out of order), one dated day 50. */
  int64_t days[] = {10, 0, 50, 20};
  for (int i = 0; i < 4; i++) {
    char p[64];
    snprintf(p, sizeof p, "{\"total\": %d}", (int)days[i] + 1);
    PX_ASSERT_INT_EQ(obs(&a, &st, "Order", T0 + days[i] * DAY, (uint64_t)i + 1, p, T0 + 20 * DAY),
                     PX_AGG_TAKEN | PX_AGG_REWRITTEN);
    obs(&s, &ss, "Order", T0 + days[i] * DAY, (uint64_t)i + 1, p, T0 + 20 * DAY);
  }
  int64_t until;
  px_rule_value v = val(&a, &st, T0 + 20 * DAY, &until);
  PX_ASSERT_TRUE(v.n == 3);
  PX_ASSERT_INT_EQ(until, T0 + 30 * DAY); /* day 0 leaves at day 30 */
  PX_ASSERT_TRUE(num(&a, &st, T0 + 30 * DAY - 1) == 3);
  v = val(&a, &st, T0 + 30 * DAY, &until);
  PX_ASSERT_TRUE(v.n == 2);
  PX_ASSERT_INT_EQ(until, T0 + 40 * DAY);
  PX_ASSERT_TRUE(num(&s, &ss, T0 + 35 * DAY) == 11 + 21);
  v = val(&a, &st, T0 + 45 * DAY, &until);
  PX_ASSERT_TRUE(v.n == 1);
  PX_ASSERT_INT_EQ(until, T0 + 50 * DAY); /* the future-dated one enters */
  PX_ASSERT_INT_EQ(v.trend, 0);             /* ... so the count may rise */
  v = val(&a, &st, T0 + 50 * DAY, &until);
  PX_ASSERT_TRUE(v.n == 1);
  PX_ASSERT_INT_EQ(until, T0 + 80 * DAY);
  PX_ASSERT_INT_EQ(v.trend, -1); /* nothing to come: it can only fall */
  v = val(&a, &st, T0 + 80 * DAY, &until);
  PX_ASSERT_TRUE(v.n == 0);
  PX_ASSERT_INT_EQ(until, INT64_MAX);

  /* Expire at day 41 keeps days 20 and 50 only; values at later times unchanged. */
  size_t before = st.len;
  int changed = 0;
  PX_ASSERT_OK(px_agg_expire(&a, &st, T0 + 41 * DAY, &changed));
  PX_ASSERT_INT_EQ(changed, PX_AGG_REWRITTEN);
  PX_ASSERT_INT_CMP(st.len, <, before);
  PX_ASSERT_TRUE(num(&a, &st, T0 + 45 * DAY) == 1);
  PX_ASSERT_TRUE(num(&a, &st, T0 + 50 * DAY) == 1);
  PX_ASSERT_OK(px_agg_expire(&a, &st, T0 + 41 * DAY, &changed));
  PX_ASSERT_INT_EQ(changed, 0);
  /* Expired entirely: the empty state. */
  PX_ASSERT_OK(px_agg_expire(&a, &st, T0 + 80 * DAY, &changed));
  PX_ASSERT_INT_EQ(st.len, 0);
  /* Too old to ever count: not taken. */
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order", T0, 99, "{}", T0 + 30 * DAY), 0);
  /* The same event (ts, seq) twice counts once. */
  obs(&a, &st, "Order", T0 + 31 * DAY, 100, "{}", T0 + 31 * DAY);
  PX_ASSERT_INT_EQ(obs(&a, &st, "Order", T0 + 31 * DAY, 100, "{}", T0 + 31 * DAY), 0);
  PX_ASSERT_TRUE(num(&a, &st, T0 + 32 * DAY) == 1);
  px_buf_free(&st), px_buf_free(&ss);
}

static void test_all_time_future_events(void **state) {
  (void)state;
  /* All time: an event dated in the future counts once now reaches it. */
  px_rule_agg a = agg(PX_AGG_MAX, "", "p", 0);
  px_buf st;
  px_buf_init(&st, 0);
  obs(&a, &st, "x", T0, 1, "{\"p\": 5}", T0);
  obs(&a, &st, "x", T0 + 1000, 2, "{\"p\": 9}", T0);
  int64_t until;
  px_rule_value v = val(&a, &st, T0, &until);
  PX_ASSERT_TRUE(v.n == 5);
  PX_ASSERT_INT_EQ(until, T0 + 1000);
  v = val(&a, &st, T0 + 1000, &until);
  PX_ASSERT_TRUE(v.n == 9);
  PX_ASSERT_INT_EQ(until, INT64_MAX);
  /* expire folds it in; observe does too. */
  size_t before = st.len;
  int changed;
  PX_ASSERT_OK(px_agg_expire(&a, &st, T0 + 1000, &changed));
  PX_ASSERT_INT_EQ(changed, PX_AGG_REWRITTEN);
  PX_ASSERT_INT_CMP(st.len, <, before);
  PX_ASSERT_TRUE(num(&a, &st, T0 + 2000) == 9);
  px_buf_free(&st);
}

/* ---- merges ---- */

static void test_merge(void **state) {
  (void)state;
  px_rule_agg fns[] = {agg(PX_AGG_COUNT, "o", "", 0),           agg(PX_AGG_SUM, "o", "t", 0),
                       agg(PX_AGG_MIN, "o", "t", DAY),           agg(PX_AGG_FIRST, "o", "c", 0),
                       agg(PX_AGG_LAST, "o", "c", DAY),          agg(PX_AGG_DISTINCT, "o", "c", 0),
                       agg(PX_AGG_MOST_FREQUENT, "o", "c", 0)};
  /* most frequent: a and b twice each, a seen latest (at 4) */
  const char *want[] = {"5", "15", "1", "a", "c", "3", "a"};
  for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
    px_buf x, y;
    px_buf_init(&x, 0), px_buf_init(&y, 0);
    obs(&fns[k], &x, "o", T0 + 1, 1, "{\"t\": 1, \"c\": \"a\"}", T0 + 10);
    obs(&fns[k], &y, "o", T0 + 2, 2, "{\"t\": 2, \"c\": \"b\"}", T0 + 10);
    obs(&fns[k], &x, "o", T0 + 3, 3, "{\"t\": 3, \"c\": \"b\"}", T0 + 10);
    obs(&fns[k], &y, "o", T0 + 4, 4, "{\"t\": 4, \"c\": \"a\"}", T0 + 10);
    obs(&fns[k], &y, "o", T0 + 5, 5, "{\"t\": 5, \"c\": \"c\"}", T0 + 10);
    PX_ASSERT_OK(px_agg_merge(&fns[k], &x, y.data, y.len));
    px_rule_value v = val(&fns[k], &x, T0 + 10, NULL);
    char got[64];
    if (v.type == PX_RV_STR) snprintf(got, sizeof got, "%.*s", (int)v.len, v.s);
    else snprintf(got, sizeof got, "%g", v.n);
    if (strcmp(got, want[k]) != 0) fail_msg("merge %s: %s, want %s", px_agg_fn_name(fns[k].fn), got, want[k]);
    /* Merging an empty state changes nothing; into an empty one copies. */
    px_buf e;
    px_buf_init(&e, 0);
    size_t len = x.len;
    PX_ASSERT_OK(px_agg_merge(&fns[k], &x, "", 0));
    PX_ASSERT_INT_EQ(x.len, len);
    PX_ASSERT_OK(px_agg_merge(&fns[k], &e, x.data, x.len));
    PX_ASSERT_INT_EQ(e.len, x.len);
    PX_ASSERT_TRUE(memcmp(e.data, x.data, x.len) == 0);
    px_buf_free(&x), px_buf_free(&y), px_buf_free(&e);
  }
}

/* ---- the property test: incremental = recomputed from scratch ---- */

typedef struct ref_ev {
  const char *name;
  int64_t ts;
  uint64_t seq;
  cJSON *props;
  int profile; /* 0 or 1 until merged */
} ref_ev;

static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static int64_t rnd_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

/* The reference's reading of a property: the same documented rules, written plainly. */
static const cJSON *ref_lookup(const cJSON *p, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  const cJSON *node = p;
  for (char *seg = strtok(buf, "."); seg; seg = strtok(NULL, ".")) {
    if (!cJSON_IsObject(node)) return NULL;
    node = cJSON_GetObjectItemCaseSensitive(node, seg);
  }
  return node;
}

static int ref_number(const cJSON *v, double *x) {
  if (cJSON_IsNumber(v)) return *x = v->valuedouble, 1;
  if (!cJSON_IsString(v)) return 0;
  char *end;
  const char *s = v->valuestring;
  if (!*s || *s == ' ' || *s == '+' || *s == '.' || strchr(s, 'x') || strchr(s, 'n') || strchr(s, 'N')) return 0;
  *x = strtod(s, &end);
  return *end == 0;
}

/* A value's identity as text ("s..." / "n..." / "b...") or NULL when not kept. */
static int ref_key(const cJSON *v, char *out) {
  if (cJSON_IsBool(v)) return sprintf(out, "b%d", cJSON_IsTrue(v)), 1;
  if (cJSON_IsNumber(v)) return sprintf(out, "n%.17g", v->valuedouble), 1;
  if (cJSON_IsString(v)) return snprintf(out, 512, "s%s", v->valuestring), 1;
  return 0;
}

static px_rule_value ref_from_key(const char *k, char *strbuf) {
  px_rule_value v;
  memset(&v, 0, sizeof v);
  if (k[0] == 'b') v.type = PX_RV_BOOL, v.b = k[1] == '1';
  else if (k[0] == 'n') v.type = PX_RV_NUM, v.n = strtod(k + 1, NULL);
  else v.type = PX_RV_STR, strcpy(strbuf, k + 1), v.s = strbuf, v.len = strlen(strbuf);
  return v;
}

static px_rule_value reference(const px_rule_agg *a, const ref_ev *ev, size_t n, int mask, int64_t now,
                               char *strbuf) {
  static char keys[512][64];
  static uint64_t counts[512];
  static int64_t lts[512];
  static uint64_t lseq[512];
  size_t nk = 0, cnt = 0;
  double sum = 0, mm = 0;
  const ref_ev *pick = NULL;
  char pickkey[64] = "";
  for (size_t i = 0; i < n; i++) {
    const ref_ev *e = &ev[i];
    if (!(mask & (1 << e->profile))) continue;
    if (a->event[0] && strcmp(a->event, e->name)) continue;
    if (e->ts > now || (a->window_ms > 0 && e->ts <= now - a->window_ms)) continue;
    if (a->where) { /* the property test's only predicate: cat = "garden" */
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(e->props, "cat");
      if (!cJSON_IsString(c) || strcmp(c->valuestring, "garden") != 0) continue;
    }
    const cJSON *p = a->property[0] ? ref_lookup(e->props, a->property) : NULL;
    char key[512];
    double x;
    switch (a->fn) {
      case PX_AGG_COUNT:
        if (a->property[0] && (!p || cJSON_IsNull(p))) continue;
        cnt++;
        break;
      case PX_AGG_SUM: case PX_AGG_AVG: case PX_AGG_MIN: case PX_AGG_MAX:
        if (!ref_number(p, &x)) continue;
        if (!cnt || (a->fn == PX_AGG_MIN && x < mm) || (a->fn == PX_AGG_MAX && x > mm)) mm = x;
        sum += x;
        cnt++;
        break;
      case PX_AGG_FIRST: case PX_AGG_LAST:
        if (a->property[0] && !ref_key(p, key)) continue;
        if (!pick || (a->fn == PX_AGG_FIRST ? (e->ts < pick->ts || (e->ts == pick->ts && e->seq < pick->seq))
                                            : (e->ts > pick->ts || (e->ts == pick->ts && e->seq > pick->seq)))) {
          pick = e;
          if (a->property[0]) strcpy(pickkey, key);
        }
        break;
      default: {
        if (!ref_key(p, key)) continue;
        size_t j = 0;
        while (j < nk && strcmp(keys[j], key)) j++;
        if (j == nk) strcpy(keys[nk++], key), counts[j] = 0, lts[j] = INT64_MIN, lseq[j] = 0;
        counts[j]++;
        if (e->ts > lts[j] || (e->ts == lts[j] && e->seq > lseq[j])) lts[j] = e->ts, lseq[j] = e->seq;
      }
    }
  }
  px_rule_value v;
  memset(&v, 0, sizeof v);
  switch (a->fn) {
    case PX_AGG_COUNT: v.type = PX_RV_NUM, v.n = (double)cnt; break;
    case PX_AGG_SUM: v.type = PX_RV_NUM, v.n = sum; break;
    case PX_AGG_AVG: if (cnt) v.type = PX_RV_NUM, v.n = sum / (double)cnt; break;
    case PX_AGG_MIN: case PX_AGG_MAX: if (cnt) v.type = PX_RV_NUM, v.n = mm; break;
    case PX_AGG_FIRST: case PX_AGG_LAST:
      if (pick && a->property[0]) v = ref_from_key(pickkey, strbuf);
      else if (pick) v.type = PX_RV_TIME, v.t = pick->ts;
      break;
    case PX_AGG_DISTINCT: v.type = PX_RV_NUM, v.n = (double)nk; break;
    case PX_AGG_DECAY: /* its own tests: test_decay.c */
    case PX_AGG_DAILY: /* test_clv_refresh.c */
    case PX_AGG_ITEMS: break; /* test_items.c */
    case PX_AGG_MOST_FREQUENT: {
      size_t best = nk;
      for (size_t j = 0; j < nk; j++)
        if (best == nk || counts[j] > counts[best] ||
            (counts[j] == counts[best] && (lts[j] > lts[best] || (lts[j] == lts[best] && lseq[j] > lseq[best]))))
          best = j;
      if (best < nk) v = ref_from_key(keys[best], strbuf);
      break;
    }
  }
  return v;
}

static int same_value(px_rule_value x, px_rule_value y) {
  if (x.type != y.type) return 0;
  switch (x.type) {
    case PX_RV_NULL: return 1;
    case PX_RV_BOOL: return x.b == y.b;
    case PX_RV_NUM: return x.n == y.n;
    case PX_RV_STR: return x.len == y.len && memcmp(x.s, y.s, x.len) == 0;
    case PX_RV_TIME: return x.t == y.t;
  }
  return 0;
}

static void show(px_rule_value v, char *out) {
  switch (v.type) {
    case PX_RV_NULL: strcpy(out, "null"); break;
    case PX_RV_BOOL: sprintf(out, "bool %d", v.b); break;
    case PX_RV_NUM: sprintf(out, "num %.17g", v.n); break;
    case PX_RV_STR: snprintf(out, 128, "str \"%.*s\"", (int)v.len, v.s); break;
    case PX_RV_TIME: sprintf(out, "time %lld", (long long)v.t); break;
  }
}

static cJSON *random_props(void) {
  cJSON *p = cJSON_CreateObject();
  /* price: multiples of 0.25 so sums are exact in any order. */
  switch (rnd() % 8) {
    case 0: break; /* absent */
    case 1: cJSON_AddNullToObject(p, "price"); break;
    case 2: { char s[32]; snprintf(s, sizeof s, "%g", (double)rnd_in(-40, 400) / 4); cJSON_AddStringToObject(p, "price", s); break; }
    case 3: cJSON_AddStringToObject(p, "price", "n/a"); break;
    default: cJSON_AddNumberToObject(p, "price", (double)rnd_in(-40, 400) / 4);
  }
  static const char *cats[] = {"garden", "books", "toys", "food", "tools"};
  switch (rnd() % 6) {
    case 0: break;
    case 1: cJSON_AddBoolToObject(p, "cat", rnd() % 2); break;
    case 2: cJSON_AddNumberToObject(p, "cat", (double)(rnd() % 3)); break;
    default: cJSON_AddStringToObject(p, "cat", cats[rnd() % 5]);
  }
  if (rnd() % 2) {
    cJSON *prod = cJSON_AddObjectToObject(p, "product");
    if (rnd() % 4) cJSON_AddStringToObject(prod, "category", cats[rnd() % 3]);
  }
  return p;
}

static void check_at(const px_rule_agg *a, const px_buf *st, const ref_ev *ev, size_t n, int mask, int64_t t,
                     unsigned seed, const char *where) {
  char sb[512], g[160], w[160];
  int64_t until;
  px_rule_value got = val(a, st, t, &until);
  px_rule_value want = reference(a, ev, n, mask, t, sb);
  if (!same_value(got, want)) {
    show(got, g), show(want, w);
    fail_msg("seed %u %s(%s) window %lld at %lld (%s): got %s, want %s", seed, px_agg_fn_name(a->fn), a->property,
             (long long)a->window_ms, (long long)t, where, g, w);
  }
  PX_ASSERT_INT_CMP(until, >, t);
  /* The value holds until valid_until (never later than the real change). */
  int64_t probes[3] = {until == INT64_MAX ? t + 1000 * 1000000LL : until - 1, t + (until == INT64_MAX ? 7 : (until - t) / 2),
                       t + 1};
  for (int i = 0; i < 3; i++) {
    if (probes[i] < t || (until != INT64_MAX && probes[i] >= until)) continue;
    px_rule_value later = reference(a, ev, n, mask, probes[i], sb);
    if (!same_value(later, want)) {
      show(later, g), show(want, w);
      fail_msg("seed %u %s window %lld: at %lld valid until %lld, but at %lld the value is %s, not %s", seed,
               px_agg_fn_name(a->fn), (long long)a->window_ms, (long long)t, (long long)until, (long long)probes[i], g, w);
    }
  }
}

static void property_run(unsigned seed, const px_rule_agg *a) {
  rng_state = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0x100000001B3ull) ^ (uint64_t)a->fn << 40;
  enum { N = 80 };
  ref_ev ev[N];
  size_t n = (size_t)rnd_in(0, N);
  size_t merge_at = (size_t)rnd_in(0, (int64_t)n);
  int64_t w = a->window_ms > 0 ? a->window_ms : 5000;
  int64_t now = T0;
  int gran = rnd() % 3 ? 1 : 100; /* coarse timestamps: ties broken by seq */
  px_buf st[2];
  px_buf_init(&st[0], 0), px_buf_init(&st[1], 0);
  int merged = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == merge_at && !merged) {
      /* Check both sides, then merge profile 1 into profile 0. */
      check_at(a, &st[0], ev, i, 1, now, seed, "before merge, profile 0");
      check_at(a, &st[1], ev, i, 2, now, seed, "before merge, profile 1");
      PX_ASSERT_OK(px_agg_merge(a, &st[0], st[1].data, st[1].len));
      px_buf_free(&st[1]);
      merged = 1;
      check_at(a, &st[0], ev, i, 3, now, seed, "just merged");
    }
    if (i == n) break;
    now += rnd_in(0, w / 3);
    ev[i].name = rnd() % 4 ? "Order" : "Page";
    ev[i].ts = (now + rnd_in(-3 * w, w / 2)) / gran * gran;
    ev[i].seq = 1000 + i;
    ev[i].props = random_props();
    ev[i].profile = merged ? 0 : (int)(rnd() % 2);
    int changed;
    PX_ASSERT_OK(px_agg_observe(a, &st[ev[i].profile], ev[i].name, ev[i].ts, ev[i].seq, ev[i].props, now, &changed));
    if (rnd() % 5 == 0) PX_ASSERT_OK(px_agg_expire(a, &st[ev[i].profile], now, &changed));
    int mask = merged ? 3 : 1 << ev[i].profile;
    int64_t t = rnd() % 3 ? now : now + rnd_in(0, 2 * w);
    check_at(a, &st[ev[i].profile], ev, i + 1, mask, t, seed, "after observe");
  }
  for (int q = 0; q < 5; q++) check_at(a, &st[0], ev, n, 3, now + rnd_in(0, 4 * w), seed, "at the end");
  for (size_t i = 0; i < n; i++) cJSON_Delete(ev[i].props);
  px_buf_free(&st[0]), px_buf_free(&st[1]);
}

static void test_property_incremental_equals_recomputed(void **state) {
  (void)state;
  const char *props[] = {"", "price", "cat", "product.category"};
  px_rule *garden = NULL;
  px_rule_error rerr;
  PX_ASSERT_OK(px_rule_compile("cat = \"garden\"", 14, PX_RULE_EVENT, &garden, &rerr));
  for (unsigned seed = 1; seed <= 150; seed++)
    for (int fn = PX_AGG_COUNT; fn <= PX_AGG_MOST_FREQUENT; fn++)
      for (int windowed = 0; windowed < 2; windowed++)
        for (int pi = 0; pi < 4; pi++) {
          if (pi == 0 && fn != PX_AGG_COUNT && fn != PX_AGG_FIRST && fn != PX_AGG_LAST) continue;
          int64_t windows[] = {1000, 60000, 3 * DAY};
          px_rule_agg a = agg((px_agg_fn)fn, seed % 5 == 0 ? "" : "Order", props[pi],
                              windowed ? windows[seed % 3] : 0);
          if (seed % 4 == 1) a.where = garden;
          property_run(seed, &a);
        }
  px_rule_free(garden);
}

/* ---- caps ---- */

static void test_caps(void **state) {
  (void)state;
  /* Windowed: past PX_AGG_MAX_ENTRIES the oldest entries go. */
  px_rule_agg a = agg(PX_AGG_COUNT, "e", "", 365 * DAY);
  px_buf st;
  px_buf_init(&st, 0);
  cJSON *p = cJSON_CreateObject();
  for (int i = 0; i < PX_AGG_MAX_ENTRIES + 5; i++)
    PX_ASSERT_OK(px_agg_observe(&a, &st, "e", T0 + i, (uint64_t)i + 1, p, T0 + DAY, NULL));
  PX_ASSERT_TRUE(num(&a, &st, T0 + DAY) == PX_AGG_MAX_ENTRIES);
  px_buf_free(&st);
  /* All time: future-dated events past the cap are folded in early. */
  a = agg(PX_AGG_COUNT, "e", "", 0);
  for (int i = 0; i < PX_AGG_MAX_ENTRIES + 5; i++)
    PX_ASSERT_OK(px_agg_observe(&a, &st, "e", T0 + DAY + i, (uint64_t)i + 1, p, T0, NULL));
  PX_ASSERT_TRUE(num(&a, &st, T0) == 5);
  PX_ASSERT_TRUE(num(&a, &st, T0 + 2 * DAY) == PX_AGG_MAX_ENTRIES + 5);
  px_buf_free(&st);
  /* Distinct values: exact up to PX_AGG_MAX_VALUES, then saturates. */
  px_rule_agg d = agg(PX_AGG_DISTINCT, "e", "v", 0), d2 = d;
  px_buf other;
  px_buf_init(&other, 0);
  for (int i = 0; i < PX_AGG_MAX_VALUES + 50; i++) {
    cJSON_DeleteItemFromObject(p, "v");
    cJSON_AddNumberToObject(p, "v", i);
    PX_ASSERT_OK(px_agg_observe(&d, &st, "e", T0, (uint64_t)i + 1, p, T0, NULL));
    cJSON_DeleteItemFromObject(p, "v");
    cJSON_AddNumberToObject(p, "v", -i - 1);
    PX_ASSERT_OK(px_agg_observe(&d2, &other, "e", T0, (uint64_t)i + 1, p, T0, NULL));
  }
  PX_ASSERT_TRUE(num(&d, &st, T0) == PX_AGG_MAX_VALUES);
  PX_ASSERT_OK(px_agg_merge(&d, &st, other.data, other.len));
  PX_ASSERT_TRUE(num(&d, &st, T0) == PX_AGG_MAX_VALUES);
  /* A value longer than PX_AGG_VALUE_MAX is skipped. */
  px_buf_free(&st);
  char big[PX_AGG_VALUE_MAX + 10];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  cJSON_DeleteItemFromObject(p, "v");
  cJSON_AddStringToObject(p, "v", big);
  int changed = 1;
  PX_ASSERT_OK(px_agg_observe(&d, &st, "e", T0, 1, p, T0, &changed));
  PX_ASSERT_INT_EQ(changed, 0);
  cJSON_Delete(p);
  px_buf_free(&st), px_buf_free(&other);
}

/* A windowed sum keeps a running total: amounts that binary cannot hold
 * exactly, added and later dropped thousands of times, leave no drift. */
static void test_window_running_total(void **state) {
  (void)state;
  px_rule_agg a = agg(PX_AGG_SUM, "e", "x", 10 * 60000), v = agg(PX_AGG_AVG, "e", "x", 10 * 60000);
  px_buf st, sv;
  px_buf_init(&st, 0), px_buf_init(&sv, 0);
  cJSON *p = cJSON_CreateObject();
  enum { N = 20000 };
  static long long cents[N];
  uint64_t r = 88172645463325252ull;
  for (int i = 0; i < N; i++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    cents[i] = (long long)(r % 2000000) - 100000; /* -1,000.00 .. 18,999.99 */
    cJSON_DeleteItemFromObject(p, "x");
    cJSON_AddNumberToObject(p, "x", (double)cents[i] / 100);
    int64_t now = T0 + (int64_t)i * 60000; /* one a minute: ten in the window */
    PX_ASSERT_OK(px_agg_observe(&a, &st, "e", now, (uint64_t)i + 1, p, now, NULL));
    PX_ASSERT_OK(px_agg_observe(&v, &sv, "e", now, (uint64_t)i + 1, p, now, NULL));
    if (i % 97 == 0 || i == N - 1) {
      long long want = 0;
      int k = 0;
      for (int j = i; j >= 0 && j > i - 10; j--) want += cents[j], k++;
      double got = num(&a, &st, now), w = (double)want / 100;
      if (fabs(got - w) > fabs(w) * 1e-15 + 1e-15) fail_msg("after %d: sum %.17g, want %.17g", i + 1, got, w);
      double avg = num(&v, &sv, now);
      if (fabs(avg - w / k) > fabs(w / k) * 1e-15 + 1e-15) fail_msg("after %d: avg %.17g, want %.17g", i + 1, avg, w / k);
    }
  }
  /* All left the window: exactly nothing. */
  PX_ASSERT_TRUE(num(&a, &st, T0 + (int64_t)(N + 20) * 60000) == 0);
  PX_ASSERT_OK(px_agg_expire(&a, &st, T0 + (int64_t)(N + 20) * 60000, NULL));
  PX_ASSERT_INT_EQ(st.len, 0);
  cJSON_Delete(p);
  px_buf_free(&st), px_buf_free(&sv);
}

/* ---- corrupt states ---- */

static void test_corrupt_state(void **state) {
  (void)state;
  px_rule_agg a = agg(PX_AGG_MOST_FREQUENT, "", "v", 0), w = agg(PX_AGG_LAST, "", "v", DAY);
  px_buf st, sw;
  px_buf_init(&st, 0), px_buf_init(&sw, 0);
  obs(&a, &st, "e", T0, 1, "{\"v\": \"a\"}", T0);
  obs(&a, &st, "e", T0, 2, "{\"v\": 2}", T0);
  obs(&a, &st, "e", T0 + 50, 3, "{\"v\": true}", T0); /* pending */
  obs(&w, &sw, "e", T0, 1, "{\"v\": \"a\"}", T0);
  obs(&w, &sw, "e", T0 + 5, 2, "{\"v\": \"b\"}", T0);
  PX_ASSERT_OK(px_agg_check(&a, st.data, st.len));
  px_rule_value v;
  /* Every truncation is refused (never read past the end: ASan). */
  for (size_t n = 1; n < st.len; n++) {
    char *cut = malloc(n);
    memcpy(cut, st.data, n);
    PX_ASSERT_STATUS(px_agg_value(&a, cut, n, T0, &v, NULL, NULL), PX_STORE);
    free(cut);
  }
  for (size_t n = 1; n < sw.len; n++) PX_ASSERT_STATUS(px_agg_check(&w, sw.data, n), PX_STORE);
  /* Wrong version, function, windowing; trailing bytes. */
  px_buf bad;
  px_buf_init(&bad, 0);
  px_buf_append(&bad, st.data, st.len);
  bad.data[0] = 9;
  PX_ASSERT_STATUS(px_agg_check(&a, bad.data, bad.len), PX_STORE);
  px_rule_agg other = agg(PX_AGG_DISTINCT, "", "v", 0);
  PX_ASSERT_STATUS(px_agg_check(&other, st.data, st.len), PX_STORE);
  other = agg(PX_AGG_MOST_FREQUENT, "", "v", DAY);
  PX_ASSERT_STATUS(px_agg_check(&other, st.data, st.len), PX_STORE);
  px_buf_reset(&bad);
  px_buf_append(&bad, st.data, st.len);
  px_buf_putc(&bad, 0);
  PX_ASSERT_STATUS(px_agg_check(&a, bad.data, bad.len), PX_STORE);
  /* Observe and merge on a corrupt state fail and leave it as it was. */
  bad.data[0] = 9;
  size_t len = bad.len;
  cJSON *p = cJSON_Parse("{\"v\": 1}");
  PX_ASSERT_STATUS(px_agg_observe(&a, &bad, "e", T0, 9, p, T0, NULL), PX_STORE);
  PX_ASSERT_INT_EQ(bad.len, len);
  PX_ASSERT_STATUS(px_agg_merge(&a, &st, bad.data, bad.len), PX_STORE);
  cJSON_Delete(p);
  /* Random bytes: refused or accepted, never a crash. */
  rng_state = 42;
  for (int i = 0; i < 20000; i++) {
    uint8_t buf[40];
    size_t n = (size_t)rnd_in(0, sizeof buf);
    for (size_t j = 0; j < n; j++) buf[j] = (uint8_t)rnd();
    if (n) buf[0] = 1;
    if (n > 1) buf[1] = (uint8_t)(rnd() % 10);
    px_rule_agg r = agg((px_agg_fn)(rnd() % 9), "", rnd() % 2 ? "v" : "", rnd() % 2 ? DAY : 0);
    px_status s = px_agg_value(&r, buf, n, T0, &v, NULL, NULL);
    PX_ASSERT_TRUE(s == PX_OK || s == PX_STORE);
  }
  px_buf_free(&st), px_buf_free(&sw), px_buf_free(&bad);
}

/* ---- definitions ---- */

static void test_ctrait_parse_and_print(void **state) {
  (void)state;
  cJSON *j = cJSON_Parse("{\"name\":\"revenue_30d\",\"function\":\"sum\",\"event\":\"Order Completed\","
                         "\"property\":\"revenue\",\"window\":\"30d\"}");
  px_ctrait t;
  px_error err;
  PX_ASSERT_OK(px_ctrait_parse(j, &t, &err));
  PX_ASSERT_STR_EQ(t.name, "revenue_30d");
  PX_ASSERT_INT_EQ(t.agg.fn, PX_AGG_SUM);
  PX_ASSERT_INT_EQ(t.agg.window_ms, 30 * DAY);
  PX_ASSERT_STR_EQ(t.agg.property, "revenue");
  px_buf out;
  px_buf_init(&out, 0);
  PX_ASSERT_OK(px_ctrait_print(&t, &out));
  PX_ASSERT_STR_EQ(out.data, "{\"name\":\"revenue_30d\",\"function\":\"sum\",\"event\":\"Order Completed\","
                             "\"property\":\"revenue\",\"window\":\"30d\"}");
  px_ctrait_free(&t);
  cJSON_Delete(j);
  /* Printed back, it parses to the same. */
  j = cJSON_Parse("{\"name\":\"orders\",\"function\":\"count\",\"window\":\"168h\"}");
  PX_ASSERT_OK(px_ctrait_parse(j, &t, &err));
  px_buf_reset(&out);
  PX_ASSERT_OK(px_ctrait_print(&t, &out));
  PX_ASSERT_STR_EQ(out.data, "{\"name\":\"orders\",\"function\":\"count\",\"window\":\"1w\"}");
  px_ctrait_free(&t);
  cJSON_Delete(j);
  px_buf_free(&out);

  struct {
    const char *json, *field, *reason;
  } bad[] = {
      {"[]", "", "must be a JSON object"},
      {"{\"function\":\"count\"}", "name", "must be a string"},
      {"{\"name\":\"9x\",\"function\":\"count\"}", "name", "starting with a letter"},
      {"{\"name\":\"x\",\"function\":\"median\"}", "function", "must be one of count, sum"},
      {"{\"name\":\"x\",\"function\":\"sum\"}", "property", "is required for function sum"},
      {"{\"name\":\"x\",\"function\":\"max\",\"property\":\"a..b\"}", "property", "property path"},
      {"{\"name\":\"x\",\"function\":\"count\",\"event\":3}", "event", "must be an event name"},
      {"{\"name\":\"x\",\"function\":\"count\",\"window\":\"30 days\"}", "window", "\"30d\""},
      {"{\"name\":\"x\",\"function\":\"count\",\"window\":\"0d\"}", "window", "whole number"},
      {"{\"name\":\"x\",\"function\":\"count\",\"window\":\"99999999w\"}", "window", "up to 100 years"},
      {"{\"name\":\"x\",\"function\":\"count\",\"window\":30}", "window", "must be null"},
      {"{\"name\":\"x\",\"function\":\"count\",\"where\":\"\"}", "where", "non-empty string"},
      {"{\"name\":\"x\",\"function\":\"count\",\"filter\":\"a\"}", "filter", "unknown member"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = cJSON_Parse(bad[i].json);
    PX_ASSERT_STATUS(px_ctrait_parse(j, &t, &err), PX_INVALID);
    PX_ASSERT_STR_EQ(err.field, bad[i].field);
    PX_ASSERT_STR_CONTAINS(err.reason, bad[i].reason);
    px_ctrait_free(&t);
    cJSON_Delete(j);
  }
  /* A where predicate: compiled, applied, printed back as given. */
  j = cJSON_Parse("{\"name\":\"garden_qty\",\"function\":\"sum\",\"event\":\"Order\",\"property\":\"qty\","
                  "\"where\":\"category = \\\"garden\\\" and qty > 10\",\"window\":\"30d\"}");
  PX_ASSERT_OK(px_ctrait_parse(j, &t, &err));
  PX_ASSERT_TRUE(t.agg.where != NULL);
  px_buf_init(&out, 0);
  PX_ASSERT_OK(px_ctrait_print(&t, &out));
  PX_ASSERT_STR_EQ(out.data, "{\"name\":\"garden_qty\",\"function\":\"sum\",\"event\":\"Order\",\"property\":\"qty\","
                             "\"where\":\"category = \\\"garden\\\" and qty > 10\",\"window\":\"30d\"}");
  px_buf st;
  px_buf_init(&st, 0);
  PX_ASSERT_INT_EQ(obs(&t.agg, &st, "Order", T0, 1, "{\"category\":\"garden\",\"qty\":12}", T0), 3);
  PX_ASSERT_INT_EQ(obs(&t.agg, &st, "Order", T0, 2, "{\"category\":\"garden\",\"qty\":5}", T0), 0);
  PX_ASSERT_INT_EQ(obs(&t.agg, &st, "Order", T0, 3, "{\"category\":\"books\",\"qty\":50}", T0), 0);
  obs(&t.agg, &st, "Order", T0 + 1, 4, "{\"category\":\"garden\",\"qty\":11}", T0 + 1);
  PX_ASSERT_TRUE(num(&t.agg, &st, T0 + 1) == 23);
  px_buf_free(&st);
  px_buf_free(&out);
  px_ctrait_free(&t);
  cJSON_Delete(j);
  j = cJSON_Parse("{\"name\":\"x\",\"function\":\"count\",\"where\":\"category =\"}");
  PX_ASSERT_STATUS(px_ctrait_parse(j, &t, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "where");
  PX_ASSERT_STR_CONTAINS(err.reason, "line 1, column ");
  cJSON_Delete(j);
  j = cJSON_Parse("{\"name\":\"x\",\"function\":\"count\",\"where\":\"trait.x = 1\"}");
  PX_ASSERT_STATUS(px_ctrait_parse(j, &t, &err), PX_INVALID);
  PX_ASSERT_STR_CONTAINS(err.reason, "line 1, column 1: an event rule can only read");
  cJSON_Delete(j);

  /* Windows. */
  int64_t ms;
  PX_ASSERT_OK(px_agg_window_parse("45m", &ms));
  PX_ASSERT_INT_EQ(ms, 45 * 60000);
  PX_ASSERT_STATUS(px_agg_window_parse("12", &ms), PX_INVALID);
  PX_ASSERT_STATUS(px_agg_window_parse("1d ", &ms), PX_INVALID);
  PX_ASSERT_STATUS(px_agg_window_parse("-1d", &ms), PX_INVALID);
  char w[32];
  px_agg_window_format(36 * 3600000LL, w);
  PX_ASSERT_STR_EQ(w, "36h");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_all_time_functions),
    cmocka_unit_test(test_empty_values),
    cmocka_unit_test(test_ties_and_seq),
    cmocka_unit_test(test_window_slides),
    cmocka_unit_test(test_all_time_future_events),
    cmocka_unit_test(test_merge),
    cmocka_unit_test(test_property_incremental_equals_recomputed),
    cmocka_unit_test(test_caps),
    cmocka_unit_test(test_window_running_total),
    cmocka_unit_test(test_corrupt_state),
    cmocka_unit_test(test_ctrait_parse_and_print),
};

PX_TEST_MAIN(tests)

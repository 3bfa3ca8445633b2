/* Fuzz target: the rule language (segments' conditions, `pickaxe rule
 * check`). The input is compiled both as a profile rule and as an event
 * rule. Checks: compiling never crashes; an accepted rule prints, its text
 * compiles again (as the same kind) and prints the same; it evaluates
 * against a fixed fake profile (profile rules, each aggregation's where on
 * fixed properties) or fixed event properties (event rules) without a
 * crash, and `until` is never in the past. */
#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "rule/rule.h"

static const int64_t NOW = 1717200000000LL;

static px_status get(void *arg, px_rule_ns ns, const char *name, px_rule_value *out, int64_t *vu) {
  (void)arg;
  size_t h = strlen(name) + (size_t)ns;
  memset(out, 0, sizeof *out);
  switch (h % 6) {
    case 0: break;
    case 1: out->type = PX_RV_NUM, out->n = (double)h - 3; break;
    case 2: out->type = PX_RV_STR, out->s = "2024-01-01", out->len = 10; break;
    case 3: out->type = PX_RV_BOOL, out->b = 1; break;
    case 4: out->type = PX_RV_TIME, out->t = NOW - (int64_t)h * 86400000; break;
    default: out->type = PX_RV_STR, out->s = "United Kingdom", out->len = 14; *vu = NOW + 1000; break;
  }
  return PX_OK;
}

static px_status in_segment(void *arg, const char *name, int *in) {
  (void)arg;
  *in = strlen(name) % 2;
  return PX_OK;
}

static px_status aggregate(void *arg, int i, px_rule_value *out, int64_t *vu) {
  (void)arg;
  memset(out, 0, sizeof *out);
  if (i % 3 != 2) out->type = PX_RV_NUM, out->n = i;
  *vu = NOW + 86400000LL * (i + 1);
  return PX_OK;
}

static void round_trip(px_rule *r, px_rule_kind kind, char *a, char *b, size_t cap) {
  FUZZ_CHECK(px_rule_print(r, a, cap) == PX_OK, "cannot print");
  px_rule *again = NULL;
  px_rule_error err;
  FUZZ_CHECK(px_rule_compile(a, strlen(a), kind, &again, &err) == PX_OK || strlen(a) > PX_RULE_MAX_BYTES,
             "canonical text rejected: %d:%d: %s\n%s", err.line, err.column, err.message, a);
  if (!again) return;
  FUZZ_CHECK(px_rule_print(again, b, cap) == PX_OK && strcmp(a, b) == 0, "canonical text is not stable:\n%s\n%s", a,
             b);
  FUZZ_CHECK(px_rule_naggs(again) == px_rule_naggs(r), "aggregations differ");
  px_rule_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_copy(data, size, 0);
  size_t cap = 8 * PX_RULE_MAX_BYTES + 4096;
  char *a = malloc(cap), *b = malloc(cap);
  cJSON *props = cJSON_Parse("{\"category\":\"garden\",\"quantity\":12,\"gift\":true,\"date\":\"2024-03-01\","
                             "\"product\":{\"price\":9.5},\"x\":null}");
  if (!a || !b || !props) abort();
  for (int k = 0; k < 2; k++) {
    px_rule_kind kind = k ? PX_RULE_EVENT : PX_RULE_PROFILE;
    px_rule *r = NULL;
    px_rule_error err;
    px_status s = px_rule_compile(text, size, kind, &r, &err);
    if (s != PX_OK) {
      FUZZ_CHECK(!r, "a rule on failure");
      FUZZ_CHECK(s == PX_INVALID || s == PX_TOO_LARGE, "status %d", (int)s);
      FUZZ_CHECK(err.line >= 1 && err.column >= 1 && err.message[0], "error without a position or message");
      continue;
    }
    round_trip(r, kind, a, b, cap);
    int res = -1;
    if (kind == PX_RULE_PROFILE) {
      px_rule_env env = {NULL, NOW, get, in_segment, aggregate};
      int64_t until = 0;
      FUZZ_CHECK(px_rule_eval(r, &env, &res, &until) == PX_OK, "eval failed");
      FUZZ_CHECK(until > NOW, "until %lld is not after now", (long long)until);
      for (int i = 0; i < px_rule_naggs(r); i++) {
        const px_rule_agg *g = px_rule_agg_at(r, i);
        FUZZ_CHECK(px_rule_agg_print(g, a, cap) == PX_OK, "cannot print an aggregation");
        if (g->where) FUZZ_CHECK(px_rule_eval_event(g->where, "Order Completed", props, &res) == PX_OK, "where");
      }
    } else {
      FUZZ_CHECK(px_rule_eval_event(r, "Order Completed", props, &res) == PX_OK, "eval_event failed");
    }
    FUZZ_CHECK(res == 0 || res == 1, "result %d", res);
    px_rule_free(r);
  }
  cJSON_Delete(props);
  free(a);
  free(b);
  free(text);
  return 0;
}

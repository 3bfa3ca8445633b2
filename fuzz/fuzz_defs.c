/* Fuzz target: the definitions of issue 5, as JSON: a computed trait
 * (px_ctrait_parse, all functions, decay's events, daily and items with
 * its array paths included), CLV
 * (px_clv_def_parse), engagement (px_engagement_check) and a journey
 * (px_journey_check, its stage rules compiled), and recommendations
 * (px_recs_def_parse, issue 6). Input: the JSON text.
 * Checks: a definition is accepted or refused with a field named, never a
 * crash; an accepted computed trait, CLV or recommendations definition
 * prints back to a definition that parses to the same one. */
#include <cjson/cJSON.h>

#include "compute/compute.h"
#include "fuzz_common.h"
#include "recs/recs.h"
#include "segment/clv_refresh.h"
#include "segment/engagement.h"
#include "segment/journey.h"

static void ctrait(const cJSON *j) {
  px_ctrait t;
  px_error err;
  px_status s = px_ctrait_parse(j, &t, &err);
  FUZZ_CHECK(s == PX_OK || (s == PX_INVALID && (err.reason[0])) || s == PX_NOMEM, "ctrait: %s", px_status_str(s));
  if (s == PX_OK) {
    px_buf b;
    px_buf_init(&b, 0);
    FUZZ_CHECK(px_ctrait_print(&t, &b) == PX_OK, "ctrait print");
    cJSON *back = cJSON_Parse(b.data);
    px_ctrait u;
    FUZZ_CHECK(back && px_ctrait_parse(back, &u, &err) == PX_OK, "printed ctrait does not parse: %s", b.data);
    FUZZ_CHECK(px_rule_agg_equal(&t.agg, &u.agg), "printed ctrait differs: %s", b.data);
    px_ctrait_free(&u);
    cJSON_Delete(back);
    px_buf_free(&b);
  }
  px_ctrait_free(&t);
}

static void clv(const cJSON *j) {
  px_clv_def d, e;
  px_error err;
  px_status s = px_clv_def_parse(j, &d, &err);
  FUZZ_CHECK(s == PX_OK || (s == PX_INVALID && err.field[0]), "clv: %s", px_status_str(s));
  if (s != PX_OK) return;
  px_buf b;
  px_buf_init(&b, 0);
  FUZZ_CHECK(px_clv_def_print(&d, &b) == PX_OK, "clv print");
  cJSON *back = cJSON_Parse(b.data);
  FUZZ_CHECK(back && px_clv_def_parse(back, &e, &err) == PX_OK, "printed clv does not parse: %s", b.data);
  FUZZ_CHECK(memcmp(&d, &e, sizeof d) == 0 || (strcmp(d.event, e.event) == 0 && strcmp(d.revenue, e.revenue) == 0 &&
                                                d.unit_days == e.unit_days && d.horizon_ms == e.horizon_ms &&
                                                d.discount == e.discount && d.every_ms == e.every_ms),
             "printed clv differs: %s", b.data);
  cJSON_Delete(back);
  px_buf_free(&b);
}

static void recs(const cJSON *j) {
  px_recs_def d, e;
  px_error err;
  px_status s = px_recs_def_parse(j, &d, &err);
  FUZZ_CHECK(s == PX_OK || (s == PX_INVALID && err.field[0]) || s == PX_NOMEM, "recs: %s", px_status_str(s));
  if (s != PX_OK) return;
  px_buf a, b;
  px_buf_init(&a, 0);
  px_buf_init(&b, 0);
  FUZZ_CHECK(px_recs_def_print(&d, &a) == PX_OK, "recs print");
  cJSON *back = cJSON_Parse(a.data);
  FUZZ_CHECK(back && px_recs_def_parse(back, &e, &err) == PX_OK, "printed recs does not parse: %s", a.data);
  FUZZ_CHECK(px_recs_def_print(&e, &b) == PX_OK && strcmp(a.data, b.data) == 0, "printed recs differs: %s / %s",
             a.data, b.data);
  px_recs_def_free(&d);
  px_recs_def_free(&e);
  cJSON_Delete(back);
  px_buf_free(&a);
  px_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *j = cJSON_ParseWithLength((const char *)data, size);
  if (!j) return 0;
  ctrait(j);
  clv(j);
  recs(j);
  cJSON *inner = cJSON_GetObjectItemCaseSensitive(j, "recommendations"); /* as pickaxe apply files hold it */
  if (inner) recs(inner);
  px_error err;
  px_status s = px_engagement_check(j, &err);
  FUZZ_CHECK(s == PX_OK || (s == PX_INVALID && err.field[0]) || s == PX_NOMEM, "engagement: %s", px_status_str(s));
  s = px_journey_check("j", j, &err);
  FUZZ_CHECK(s == PX_OK || (s == PX_INVALID && err.field[0]) || s == PX_NOMEM, "journey: %s", px_status_str(s));
  cJSON_Delete(j);
  return 0;
}

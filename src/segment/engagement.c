/* Engagement: a decayed-score computed trait and four tier segments from
 * one definition (segment/engagement.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "segment/def.h"
#include "segment/engagement.h"
#include "segment/members.h"

static const char *const tier_names[PX_ENGAGEMENT_TIERS] = {"high", "medium", "low", "dormant"};
static const char *const tier_segments[PX_ENGAGEMENT_TIERS] = {"engagement_high", "engagement_medium",
                                                                "engagement_low", "engagement_dormant"};
static const double tier_defaults[3] = {20, 5, 1};

const char *px_engagement_tier_name(int i) { return i >= 0 && i < PX_ENGAGEMENT_TIERS ? tier_names[i] : NULL; }
const char *px_engagement_tier_segment(int i) {
  return i >= 0 && i < PX_ENGAGEMENT_TIERS ? tier_segments[i] : NULL;
}

/* Checks the definition; min[0..2] get the high, medium and low bounds and
 * *trait the computed trait's definition (a cJSON object to free). */
static px_status parse(const cJSON *j, double min[3], cJSON **trait, px_error *err) {
  *trait = NULL;
  if (!cJSON_IsObject(j))
    return px_error_set(err, PX_INVALID, "engagement", "must be an object {\"events\": {...}, \"tiers\": {...}}");
  const cJSON *c;
  cJSON_ArrayForEach(c, j) {
    if (strcmp(c->string, "events") && strcmp(c->string, "tiers"))
      return px_error_set(err, PX_INVALID, "engagement", "unknown member \"%.64s\" (events, tiers)", c->string);
  }
  memcpy(min, tier_defaults, sizeof tier_defaults);
  const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(j, "tiers");
  if (tiers) {
    if (!cJSON_IsObject(tiers))
      return px_error_set(err, PX_INVALID, "engagement.tiers", "must be {\"high\": N, \"medium\": N, \"low\": N}");
    cJSON_ArrayForEach(c, tiers) {
      int k = 0;
      while (k < 3 && strcmp(c->string, tier_names[k])) k++;
      char field[64];
      snprintf(field, sizeof field, "engagement.tiers.%.32s", c->string);
      if (k == 3)
        return px_error_set(err, PX_INVALID, field, "unknown tier (high, medium, low; dormant is below low)");
      if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || c->valuedouble <= 0)
        return px_error_set(err, PX_INVALID, field, "must be a number above 0");
      min[k] = c->valuedouble;
    }
    if (!(min[0] > min[1] && min[1] > min[2]))
      return px_error_set(err, PX_INVALID, "engagement.tiers", "must be high > medium > low (got %g, %g, %g)", min[0],
                          min[1], min[2]);
  }
  cJSON *t = cJSON_CreateObject();
  if (!t || !cJSON_AddStringToObject(t, "name", PX_ENGAGEMENT_TRAIT) ||
      !cJSON_AddStringToObject(t, "function", "decay")) {
    cJSON_Delete(t);
    return PX_NOMEM;
  }
  const cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "events");
  cJSON *copy = events ? cJSON_Duplicate(events, 1) : NULL;
  if (copy) cJSON_AddItemToObject(t, "events", copy);
  px_ctrait check;
  px_error terr;
  px_status s = px_ctrait_parse(t, &check, &terr);
  px_ctrait_free(&check);
  if (s == PX_INVALID) {
    cJSON_Delete(t);
    return px_error_set(err, PX_INVALID, *terr.field ? "engagement.events" : "engagement", "%s%s%s",
                        strncmp(terr.field, "events.", 7) == 0 ? terr.field + 7 : "",
                        strncmp(terr.field, "events.", 7) == 0 ? ": " : "", terr.reason);
  }
  if (s != PX_OK) {
    cJSON_Delete(t);
    return s;
  }
  *trait = t;
  return PX_OK;
}

px_status px_engagement_check(const cJSON *j, px_error *err) {
  double min[3];
  cJSON *trait = NULL;
  px_status s = parse(j, min, &trait, err);
  cJSON_Delete(trait);
  return s;
}

px_status px_engagement_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *json, size_t n,
                               int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err) {
  cJSON *j = cJSON_ParseWithLength(json, n), *trait = NULL;
  double min[3];
  px_status s = j ? parse(j, min, &trait, err) : px_error_set(err, PX_INVALID, "engagement", "not valid JSON");
  cJSON_Delete(j);
  char *text = s == PX_OK ? cJSON_PrintUnformatted(trait) : NULL;
  if (s == PX_OK && !text) s = PX_NOMEM;
  if (s == PX_OK) s = px_ctrait_define(txn, st, cfg, text, strlen(text), now_ms, progress, arg, err);
  /* The tiers: one segment each, a profile in exactly one. */
  char b[3][40] = {"", "", ""};
  for (int k = 0; k < 3 && s == PX_OK; k++) px_num_shortest(min[k], b[k]);
  for (int k = 0; k < PX_ENGAGEMENT_TIERS && s == PX_OK; k++) {
    char rule[256];
    if (k == 0) snprintf(rule, sizeof rule, "computed.%s >= %s", PX_ENGAGEMENT_TRAIT, b[0]);
    else if (k < 3)
      snprintf(rule, sizeof rule, "computed.%s >= %s and computed.%s < %s", PX_ENGAGEMENT_TRAIT, b[k],
               PX_ENGAGEMENT_TRAIT, b[k - 1]);
    else snprintf(rule, sizeof rule, "computed.%s < %s", PX_ENGAGEMENT_TRAIT, b[2]);
    px_rule_error rerr = {0};
    s = px_segment_define(txn, st, cfg, tier_segments[k], rule, now_ms, progress, arg, &rerr);
    if (s == PX_INVALID) s = px_error_set(err, PX_INVALID, "engagement.tiers", "%s", rerr.message);
  }
  /* The definition as stored: the trait's events as it prints them, and the bounds. */
  px_buf body;
  px_buf_init(&body, PX_DEF_BODY_MAX);
  px_ctrait t;
  if (s == PX_OK && (s = px_ctrait_get(txn, st, PX_ENGAGEMENT_TRAIT, &t)) == PX_OK) {
    px_buf tb;
    px_buf_init(&tb, PX_DEF_BODY_MAX);
    s = px_ctrait_print(&t, &tb);
    cJSON *tj = s == PX_OK ? cJSON_Parse(tb.data) : NULL;
    char *events = tj ? cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(tj, "events")) : NULL;
    if (s == PX_OK && !events) s = PX_NOMEM;
    if (s == PX_OK)
      s = px_buf_printf(&body, "{\"events\":%s,\"tiers\":{\"high\":%s,\"medium\":%s,\"low\":%s}}", events, b[0], b[1],
                        b[2]);
    cJSON_free(events);
    cJSON_Delete(tj);
    px_buf_free(&tb);
    px_ctrait_free(&t);
  }
  if (s == PX_OK) s = px_def_put(txn, st, PX_DEF_ENGAGEMENT, PX_ENGAGEMENT_TRAIT, body.data, body.len, now_ms, NULL, NULL);
  px_buf_free(&body);
  cJSON_free(text);
  cJSON_Delete(trait);
  return s;
}

px_status px_engagement_status(px_txn *txn, const px_store *st, px_buf *out) {
  px_def d;
  px_status s = px_def_get(txn, st, PX_DEF_ENGAGEMENT, PX_ENGAGEMENT_TRAIT, &d);
  if (s != PX_OK) return s;
  px_buf_puts(out, "{\"definition\":");
  px_buf_puts(out, d.body);
  px_def_free(&d);
  px_buf_puts(out, ",\"tiers\":{");
  for (int k = 0; k < PX_ENGAGEMENT_TIERS && s == PX_OK; k++) {
    px_def seg;
    uint64_t count = 0;
    if ((s = px_def_get(txn, st, PX_DEF_SEGMENT, tier_segments[k], &seg)) == PX_OK) {
      s = px_members_count(txn, st, seg.id, &count);
      px_def_free(&seg);
    } else if (s == PX_NOT_FOUND) { /* deleted by hand: no members */
      s = PX_OK;
    }
    px_buf_printf(out, "%s\"%s\":%llu", k ? "," : "", tier_names[k], (unsigned long long)count);
  }
  return s == PX_OK ? px_buf_puts(out, "}}") : s;
}

/* The CLV definition: which events are purchases, the models' unit, the
 * horizon and discount of the value, how often to refit
 * (segment/clv_refresh.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "score/scores.h"
#include "segment/clv_refresh.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/every.h"

#define DAY_MS 86400000LL

static const char *const members[] = {"event", "horizon", "discount_rate", "refresh_every", "revenue", "unit"};

static int known(const char *name) {
  for (size_t i = 0; i < sizeof members / sizeof *members; i++)
    if (strcmp(name, members[i]) == 0) return 1;
  return 0;
}

/* A string member into out (1..PX_RULE_NAME_MAX-1 bytes); absent leaves out. */
static px_status name_member(const cJSON *j, const char *member, char out[PX_RULE_NAME_MAX], px_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, member);
  if (!v) return PX_OK;
  char field[32];
  strcpy(field, "clv.");
  strcat(field, member);
  if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= PX_RULE_NAME_MAX)
    return px_error_set(err, PX_INVALID, field, "must be a string of 1 to %d bytes", PX_RULE_NAME_MAX - 1);
  strcpy(out, v->valuestring);
  return PX_OK;
}

px_status px_clv_def_parse(const cJSON *j, px_clv_def *out, px_error *err) {
  memset(out, 0, sizeof *out);
  strcpy(out->revenue, "revenue");
  out->unit_days = 7;
  out->horizon_ms = PX_CLV_HORIZON_DEFAULT_MS;
  out->discount = PX_CLV_DISCOUNT_DEFAULT;
  out->every_ms = PX_CLV_EVERY_DEFAULT_MS;
  if (!cJSON_IsObject(j)) return px_error_set(err, PX_INVALID, "clv", "must be an object {\"event\", ...}");
  const cJSON *c;
  cJSON_ArrayForEach(c, j) {
    if (!known(c->string))
      return px_error_set(err, PX_INVALID, "clv",
                          "unknown member \"%.64s\" (event, revenue, unit, horizon, discount_rate, refresh_every)",
                          c->string);
  }
  if (!cJSON_GetObjectItemCaseSensitive(j, "event"))
    return px_error_set(err, PX_INVALID, "clv.event", "required: the name of the purchase event");
  px_status s = name_member(j, "event", out->event, err);
  if (s == PX_OK) s = name_member(j, "revenue", out->revenue, err);
  if (s != PX_OK) return s;
  const cJSON *unit = cJSON_GetObjectItemCaseSensitive(j, "unit");
  if (unit) {
    const char *u = cJSON_GetStringValue(unit);
    if (u && strcmp(u, "week") == 0) out->unit_days = 7;
    else if (u && strcmp(u, "day") == 0) out->unit_days = 1;
    else return px_error_set(err, PX_INVALID, "clv.unit", "must be \"week\" or \"day\"");
  }
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "horizon");
  if (h && !(cJSON_IsString(h) && px_agg_window_parse(h->valuestring, &out->horizon_ms) == PX_OK &&
             out->horizon_ms % DAY_MS == 0 && out->horizon_ms <= 3650 * DAY_MS))
    return px_error_set(err, PX_INVALID, "clv.horizon", "a whole number of days or weeks up to 10 years (\"365d\", \"52w\")");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "discount_rate");
  if (d && !(cJSON_IsNumber(d) && d->valuedouble >= 0 && d->valuedouble <= 1))
    return px_error_set(err, PX_INVALID, "clv.discount_rate", "an annual rate from 0 to 1 (0.1 for 10%%)");
  if (d) out->discount = d->valuedouble;
  const cJSON *every = cJSON_GetObjectItemCaseSensitive(j, "refresh_every");
  if (every && !(cJSON_IsString(every) && px_every_parse(every->valuestring, &out->every_ms)))
    return px_error_set(err, PX_INVALID, "clv.refresh_every",
                        "a positive whole number and a unit s, m, h, d or w (\"24h\"), or \"never\"");
  return PX_OK;
}

px_status px_clv_def_print(const px_clv_def *d, px_buf *out) {
  char every[32], horizon[32];
  px_every_format(d->every_ms, every);
  px_agg_window_format(d->horizon_ms, horizon);
  px_buf_puts(out, "{\"event\":");
  px_buf_json_str(out, d->event, strlen(d->event));
  px_buf_puts(out, ",\"revenue\":");
  px_buf_json_str(out, d->revenue, strlen(d->revenue));
  char rate[40];
  px_num_shortest(d->discount, rate);
  return px_buf_printf(out, ",\"unit\":\"%s\",\"horizon\":\"%s\",\"discount_rate\":%s,\"refresh_every\":\"%s\"}",
                       d->unit_days == 1 ? "day" : "week", horizon, rate, every);
}

px_status px_clv_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *json, size_t n,
                        int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err) {
  cJSON *j = cJSON_ParseWithLength(json, n);
  px_clv_def d;
  px_status s = j ? px_clv_def_parse(j, &d, err) : px_error_set(err, PX_INVALID, "clv", "not valid JSON");
  cJSON_Delete(j);
  if (s != PX_OK) return s;
  /* The purchase days it reads, kept as events arrive (unchanged: nothing happens). */
  cJSON *t = cJSON_CreateObject();
  char *text = NULL;
  if (t && cJSON_AddStringToObject(t, "name", PX_CLV_TRAIT) && cJSON_AddStringToObject(t, "function", "daily") &&
      cJSON_AddStringToObject(t, "event", d.event) && cJSON_AddStringToObject(t, "property", d.revenue))
    text = cJSON_PrintUnformatted(t);
  cJSON_Delete(t);
  if (!text) return PX_NOMEM;
  px_error terr;
  px_error_clear(&terr);
  s = px_ctrait_define(txn, st, cfg, text, strlen(text), now_ms, progress, arg, &terr);
  cJSON_free(text);
  if (s == PX_INVALID) return px_error_set(err, PX_INVALID, "clv.revenue", "%s: %s", terr.field, terr.reason);
  if (s != PX_OK) return s;
  px_buf body;
  px_buf_init(&body, PX_DEF_BODY_MAX);
  if ((s = px_clv_def_print(&d, &body)) == PX_OK)
    s = px_def_put(txn, st, PX_DEF_CLV, PX_CLV_DEF_NAME, body.data, body.len, now_ms, NULL, NULL);
  px_buf_free(&body);
  return s;
}

px_status px_clv_def_get(px_txn *txn, const px_store *st, px_clv_def *out, int64_t *updated_ms) {
  px_def def;
  px_status s = px_def_get(txn, st, PX_DEF_CLV, PX_CLV_DEF_NAME, &def);
  if (s != PX_OK) return s;
  cJSON *j = cJSON_Parse(def.body);
  s = j && px_clv_def_parse(j, out, NULL) == PX_OK ? PX_OK : PX_STORE;
  cJSON_Delete(j);
  if (updated_ms) *updated_ms = def.updated_ms;
  px_def_free(&def);
  return s;
}

px_status px_clv_next_due(px_txn *txn, const px_store *st, int64_t *due_ms) {
  *due_ms = INT64_MAX;
  px_clv_def d;
  int64_t updated;
  px_status s = px_clv_def_get(txn, st, &d, &updated);
  if (s == PX_NOT_FOUND) return PX_OK;
  return s == PX_OK ? px_every_next_due(txn, st, PX_CLV_SUMMARY, updated, d.every_ms, due_ms) : s;
}

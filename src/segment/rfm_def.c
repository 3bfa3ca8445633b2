/* The RFM definition: which computed traits feed it and how often it is
 * refreshed (segment/rfm_refresh.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "score/scores.h"
#include "segment/every.h"
#include "segment/rfm_refresh.h"

static const char *const members[3] = {"recency", "frequency", "monetary"};

static char *member_of(px_rfm_def *d, int i) { return i == 0 ? d->recency : i == 1 ? d->frequency : d->monetary; }

px_status px_rfm_def_parse(const cJSON *j, px_rfm_def *out, px_error *err) {
  memset(out, 0, sizeof *out);
  out->every_ms = PX_RFM_EVERY_DEFAULT_MS;
  if (!cJSON_IsObject(j)) return px_error_set(err, PX_INVALID, "rfm", "must be an object {\"recency\", \"frequency\", \"monetary\"}");
  const cJSON *c;
  cJSON_ArrayForEach(c, j) {
    int known = strcmp(c->string, "refresh_every") == 0;
    for (int i = 0; i < 3; i++) known |= strcmp(c->string, members[i]) == 0;
    if (!known)
      return px_error_set(err, PX_INVALID, "rfm", "unknown member \"%.64s\" (recency, frequency, monetary, refresh_every)",
                          c->string);
  }
  for (int i = 0; i < 3; i++) {
    char field[32];
    snprintf(field, sizeof field, "rfm.%s", members[i]);
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, members[i]));
    if (!name) return px_error_set(err, PX_INVALID, field, "required: the name of a computed trait");
    if (!px_def_name_ok(name)) return px_error_set(err, PX_INVALID, field, "\"%.128s\" is not a computed trait name", name);
    strcpy(member_of(out, i), name);
  }
  const cJSON *every = cJSON_GetObjectItemCaseSensitive(j, "refresh_every");
  if (every && !(cJSON_IsString(every) && px_every_parse(every->valuestring, &out->every_ms)))
    return px_error_set(err, PX_INVALID, "rfm.refresh_every",
                        "a positive whole number and a unit s, m, h, d or w (\"24h\"), or \"never\"");
  return PX_OK;
}

px_status px_rfm_def_print(const px_rfm_def *d, px_buf *out) {
  char every[32];
  px_every_format(d->every_ms, every);
  px_buf_puts(out, "{\"recency\":");
  px_buf_json_str(out, d->recency, strlen(d->recency));
  px_buf_puts(out, ",\"frequency\":");
  px_buf_json_str(out, d->frequency, strlen(d->frequency));
  px_buf_puts(out, ",\"monetary\":");
  px_buf_json_str(out, d->monetary, strlen(d->monetary));
  return px_buf_printf(out, ",\"refresh_every\":\"%s\"}", every);
}

/* Whether the computed trait's function gives what the member needs. */
static int fits(int member, px_agg_fn fn) {
  if (member == 0) return fn == PX_AGG_FIRST || fn == PX_AGG_LAST || fn == PX_AGG_MIN || fn == PX_AGG_MAX;
  return fn == PX_AGG_COUNT || fn == PX_AGG_SUM || fn == PX_AGG_AVG || fn == PX_AGG_MIN || fn == PX_AGG_MAX ||
         fn == PX_AGG_DISTINCT;
}

px_status px_rfm_define(px_txn *txn, const px_store *st, const char *json, size_t n, int64_t now_ms, int *changed,
                        px_error *err) {
  if (changed) *changed = 0;
  cJSON *j = cJSON_ParseWithLength(json, n);
  px_rfm_def d;
  px_status s = j ? px_rfm_def_parse(j, &d, err) : px_error_set(err, PX_INVALID, "rfm", "not valid JSON");
  cJSON_Delete(j);
  for (int i = 0; i < 3 && s == PX_OK; i++) {
    char field[32];
    snprintf(field, sizeof field, "rfm.%s", members[i]);
    const char *name = member_of(&d, i);
    px_def def;
    if ((s = px_def_get(txn, st, PX_DEF_CTRAIT, name, &def)) == PX_NOT_FOUND) {
      s = px_error_set(err, PX_INVALID, field, "no computed trait named \"%s\" (define it first, or in the same file)",
                       name);
      break;
    }
    if (s != PX_OK) break;
    cJSON *body = cJSON_Parse(def.body);
    px_ctrait t;
    s = body && px_ctrait_parse(body, &t, NULL) == PX_OK ? PX_OK : PX_STORE;
    cJSON_Delete(body);
    px_def_free(&def);
    if (s != PX_OK) break;
    if (!fits(i, t.agg.fn))
      s = px_error_set(err, PX_INVALID, field, "computed trait \"%s\" is a %s; %s needs %s", name,
                       px_agg_fn_name(t.agg.fn), members[i],
                       i == 0 ? "a time (first, last, min or max)" : "a number (count, sum, avg, min, max or distinct)");
    px_ctrait_free(&t);
  }
  px_buf body;
  px_buf_init(&body, PX_DEF_BODY_MAX);
  px_def old, stored;
  uint64_t old_version = 0;
  if (s == PX_OK && (s = px_def_get(txn, st, PX_DEF_RFM, PX_RFM_DEF_NAME, &old)) == PX_OK) {
    old_version = old.version;
    px_def_free(&old);
  }
  if (s == PX_NOT_FOUND) s = PX_OK;
  if (s == PX_OK && (s = px_rfm_def_print(&d, &body)) == PX_OK &&
      (s = px_def_put(txn, st, PX_DEF_RFM, PX_RFM_DEF_NAME, body.data, body.len, now_ms, &stored, NULL)) == PX_OK) {
    if (changed) *changed = stored.version != old_version;
    px_def_free(&stored);
  }
  px_buf_free(&body);
  return s;
}

px_status px_rfm_def_get(px_txn *txn, const px_store *st, px_rfm_def *out, int64_t *updated_ms) {
  px_def def;
  px_status s = px_def_get(txn, st, PX_DEF_RFM, PX_RFM_DEF_NAME, &def);
  if (s != PX_OK) return s;
  cJSON *j = cJSON_Parse(def.body);
  s = j && px_rfm_def_parse(j, out, NULL) == PX_OK ? PX_OK : PX_STORE;
  cJSON_Delete(j);
  if (updated_ms) *updated_ms = def.updated_ms;
  px_def_free(&def);
  return s;
}

px_status px_rfm_next_due(px_txn *txn, const px_store *st, int64_t *due_ms) {
  *due_ms = INT64_MAX;
  px_rfm_def d;
  int64_t updated;
  px_status s = px_rfm_def_get(txn, st, &d, &updated);
  if (s == PX_NOT_FOUND) return PX_OK;
  return s == PX_OK ? px_every_next_due(txn, st, PX_RFM_SUMMARY, updated, d.every_ms, due_ms) : s;
}
